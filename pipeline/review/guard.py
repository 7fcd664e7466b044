"""What the review server refuses, as pure functions: foreign Host/Origin, paths outside its folders, bad verdicts.

- ``check_request``: the Host must be the server's own ``127.0.0.1:PORT`` (a DNS-rebound page sends its
  own name), an Origin, when sent, ``http://127.0.0.1:PORT``, and a browser's ``Sec-Fetch-Site`` must not
  say cross-site. A write must carry an Origin (browsers always send one on POST), so no other site's page
  can post a verdict.
- ``resolve``: a request path is a path under the server's root, decoded once; ``.``/``..`` segments, NUL,
  backslashes and anything outside the served folders (the reports, the image store) are refused. Links
  inside a served folder are followed: DVC may link files in from its cache.
- ``record``: a click's JSON becomes one checked line of ``review/labels.csv`` or ``review/dedup_labels.csv``
  (``pipeline.labels.make_label``, ``pipeline.dedup.labels.make_pair_label``: only their vocabulary).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipeline.dedup.labels import append_pair_label, make_pair_label
from pipeline.labels import append_label, make_label

SOURCE = "review-server"
_FIELDS = {"label": {"review", "postId", "md5", "target", "value"}, "pair": {"review", "md5A", "md5B", "verdict"}}


class Refused(Exception):
    """A request the server answers with ``status`` and ``why``."""

    def __init__(self, status: int, why: str):
        super().__init__(why)
        self.status, self.why = status, why


def check_request(headers: Mapping[str, str], port: int, write: bool) -> None:
    own = f"127.0.0.1:{port}"
    if headers.get("Host") != own:
        raise Refused(403, f"Host must be {own}")
    origin = headers.get("Origin")
    if origin is not None and origin != f"http://{own}":
        raise Refused(403, "foreign Origin")
    if headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
        raise Refused(403, "cross-site request")
    if write and origin is None:
        raise Refused(403, "a verdict must come from the review page (no Origin header)")


def resolve(root: Path, served: tuple[Path, ...], target: str) -> Path:
    """The file a request target names under ``root``, if it lies in one of the ``served`` folders."""
    if not target.startswith("/") or target.startswith("//"):
        raise Refused(400, "request target must be a path")
    try:
        path = unquote(urlsplit(target).path, errors="strict")
    except UnicodeDecodeError:
        raise Refused(400, "path is not UTF-8") from None
    if "\x00" in path or "\\" in path:
        raise Refused(400, "NUL or backslash in path")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise Refused(403, "dot segments are not served")
    full = root.joinpath(*parts)
    if not any(full == s or full.is_relative_to(s) for s in served):
        raise Refused(404, "not in a served folder")
    if full.is_dir():
        full = full / "index.html"
    if not full.is_file():
        raise Refused(404, "no such file")
    return full


def _int(value: object, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,15}", value):
        return int(value)
    raise ValueError(f"{name} must be an integer, not {value!r}")


def record(body: object, labels: Path, dedup_labels: Path) -> str:
    """Append the verdict ``body`` (a click's JSON) to its file; return what was recorded, in words."""
    if not isinstance(body, dict) or body.get("review") not in _FIELDS:
        raise ValueError("a verdict is a JSON object whose review is 'label' or 'pair'")
    fields = _FIELDS[body["review"]]
    if set(body) != fields:
        raise ValueError(f"expected the fields {sorted(fields)}, got {sorted(map(str, body))}")
    if body["review"] == "label":
        label = make_label(_int(body["postId"], "postId"), body["md5"], body["target"], _int(body["value"], "value"),
                           SOURCE)
        append_label(labels, label)
        return f"{'' if label.value else 'not '}{label.target} (post {label.post_id})"
    pair = make_pair_label(body["md5A"], body["md5B"], body["verdict"], SOURCE)
    append_pair_label(dedup_labels, pair)
    return f"{'same picture' if pair.verdict == 'same' else 'not the same picture'}"
