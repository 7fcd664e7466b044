"""Crawl logic with no I/O: Gelbooru 0.2 API parsing, record normalisation, URLs, listing rules.

Everything here is a pure function of its arguments, so the spider (``spiders/``) only wires it to
Scrapy and the tests can check each quirk of ``shared/reference/safebooru-api.md`` directly.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit

from pipeline.crawl.config import CrawlConfig
from pipeline.manifest import normalise_rating

IMAGE_EXTS = ("jpg", "jpeg", "png", "gif", "webp", "bmp", "avif")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


# ----------------------------------------------------------------------------- URLs

def normalise_base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"crawl.source: not an http(s) base URL or 'sample': {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def allowed_hosts(base: str) -> frozenset[str]:
    """The only hosts a crawl of ``base`` fetches from (API pages and files alike)."""
    return frozenset({host_of(base)})


def cursor_tags(tags: str, before_id: int | None) -> str:
    """The query's tags plus the `id:<LAST` cursor that replaces `pid` paging (no depth cap)."""
    tags = " ".join(tags.split())
    return f"{tags} id:<{before_id}".strip() if before_id is not None else tags


def api_url(base: str, tags: str, limit: int, as_json: bool) -> str:
    params = {"page": "dapi", "s": "post", "q": "index", "tags": tags, "limit": limit, "pid": 0}
    if as_json:
        params["json"] = 1
    return f"{base}/index.php?{urlencode(params)}"


def clean_file_url(url: str, base: str) -> str:
    """Absolute URL with `//` runs collapsed in the path and the `?{id}` cache-buster dropped."""
    if url.startswith("//"):
        url = urlsplit(base).scheme + ":" + url
    url = urljoin(base + "/", url)
    parts = urlsplit(url)
    path = re.sub(r"/{2,}", "/", parts.path)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


# ----------------------------------------------------------------------------- API pages

@dataclass
class Page:
    """One API answer. kind: posts (maybe an empty list), empty (an empty body), error."""

    kind: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    count: int | None = None  # XML only: total matches of the tags
    reason: str = ""


def parse_page(body: bytes) -> Page:
    """Parse a posts-API body, JSON or XML, surviving the site's quirks (see the facts sheet)."""
    text = body.strip()
    if not text:
        return Page("empty")
    if text[:1] == b"[":
        try:
            data = json.loads(text)
        except ValueError:
            return Page("error", reason="bad_json")
        if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
            return Page("error", reason="bad_json")
        return Page("posts", data)
    if text[:1] == b"{":
        return Page("error", reason="bad_json")
    if text.lstrip(b"\xef\xbb\xbf")[:5] == b"<?xml" or text[:6] in (b"<posts", b"<respo"):
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            return Page("error", reason="bad_xml")
        if root.tag == "response":
            return Page("error", reason="api_error: " + root.get("reason", "unknown")[:200])
        if root.tag != "posts":
            return Page("error", reason="bad_xml")
        try:
            count = int(root.get("count", ""))
        except ValueError:
            count = None
        return Page("posts", [dict(p.attrib) for p in root.iter("post")], count)
    return Page("error", reason="html" if text[:1] == b"<" else "unparseable")


def _int_or(value: Any, default: int | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return default


def post_id(raw: dict[str, Any]) -> int | None:
    """The id of one API record (JSON number or XML string); None when it has none."""
    return _int_or(raw.get("id"), None)


def normalise_post(raw: dict[str, Any], base: str) -> dict[str, Any] | None:
    """One API record (JSON or XML) as a RAW_POSTS row (less the fetch columns); None if it has no id."""
    pid = post_id(raw)
    if pid is None:
        return None
    md5 = str(raw.get("hash") or raw.get("md5") or "").strip().lower()
    file_url = str(raw.get("file_url") or "").strip()
    image = str(raw.get("image") or "").strip()
    directory = str(raw.get("directory") or "").strip()
    if not file_url and image and directory:  # old records: no *_url fields
        file_url = f"{base}/images/{quote(directory, safe='')}/{quote(image, safe='')}"
    file_url = clean_file_url(file_url, base) if file_url else ""
    name = image or file_url.rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    rating_raw = str(raw.get("rating") or "").strip()
    try:
        rating = normalise_rating(rating_raw)
    except ValueError:
        rating = rating_raw.lower()
    return {
        "id": pid, "md5": md5, "ext": ext,
        "width": _int_or(raw.get("width"), None), "height": _int_or(raw.get("height"), None),
        "rating": rating, "tags": " ".join(str(raw.get("tags") or "").split()),
        "parent_id": _int_or(raw.get("parent_id"), 0) or 0, "score": _int_or(raw.get("score"), None),
        "source": str(raw.get("source") or ""), "change": _int_or(raw.get("change"), None),
        "file_url": file_url,
    }


def listing_reason(post: dict[str, Any], cfg: CrawlConfig, hosts: frozenset[str]) -> str:
    """Why a listed post is rejected before any download ("" when it is to be fetched)."""
    if not _MD5.match(post["md5"]):
        return "bad_md5_field"
    if post["ext"] not in IMAGE_EXTS:
        return "unsupported_ext"
    if not post["file_url"]:
        return "no_file_url"
    if host_of(post["file_url"]) not in hosts or urlsplit(post["file_url"]).scheme not in ("http", "https"):
        return "foreign_host"
    if post["rating"] not in cfg.ratings:
        return "rating"
    if (post["width"] or 0) < cfg.min_width or (post["height"] or 0) < cfg.min_height:
        return "too_small"
    return ""


def parse_retry_after(value: str | bytes | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import time
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
