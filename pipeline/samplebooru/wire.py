"""What the sample booru writes on the wire: Safebooru's JSON and XML, byte for byte, quirks included.

Everything here is a pure function of a ``Post`` (plus the server's base URL, and the page's total and
offset for XML), so the format can be read and checked without a running server, and the routing
code (``routes``) never has to know how a record is spelled. The shapes follow the facts sheet
(shared/reference/safebooru-api.md); ``server``'s module docstring lists the endpoints.

The canned bodies (404, database-error HTML, XML error, the abuse answer past the depth cap) live here
too: a crawler tells them apart by their bytes, so they are wire format as much as the records are.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from pipeline.samplebooru.corpus import Post
from pipeline.samplebooru.query import rating_class

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
ABUSE_XML = XML_HEAD + '<response success="false" reason="Search error: API limited due to abuse."/>'
HTML_404 = (b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found"
            b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
HTML_DB_ERROR = (b"<!DOCTYPE html><html><head><title>Safebooru</title></head><body><div id=\"content\">"
                 b"<h1>Database error</h1><p>Too many connections. Please try again in a moment.</p>"
                 b"</div></body></html>\n")
XML_ERROR = (XML_HEAD + '<response success="false" reason="Search error: Internal error, please try '
             'again."/>').encode()
_STATUS_TEXT = {429: "429 Too Many Requests", 500: "500 Internal Server Error", 502: "502 Bad Gateway",
                503: "503 Service Temporarily Unavailable", 504: "504 Gateway Time-out"}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
try:  # The real site's clock is on European time (+0100 in winter, +0200 in summer).
    from zoneinfo import ZoneInfo

    _TZ: dt.tzinfo = ZoneInfo("Europe/Berlin")
except Exception:  # pragma: no cover - no tz database
    _TZ = dt.timezone(dt.timedelta(hours=1))


def status_page(status: int) -> bytes:
    """The HTML a CDN in front of the site answers an error status with (what a crawler sees on 5xx/429)."""
    text = _STATUS_TEXT.get(status, str(status))
    return (f"<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n<center><h1>{text}</h1>"
            f"</center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n").encode()


@functools.lru_cache(maxsize=65536)
def format_created_at(ts: int) -> str:
    """``Fri Mar 18 03:02:02 +0100 2022`` (``%a %b %d %H:%M:%S %z %Y`` in the C locale).

    Spelled out by hand rather than with ``strftime("%a %b")`` so the names never follow the host's locale.
    """
    d = dt.datetime.fromtimestamp(ts, _TZ)
    return (f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d} {d:%H:%M:%S} {d.strftime('%z')} "
            f"{d.year}")


@functools.lru_cache(maxsize=1 << 18)  # pure in the id, asked for every post of every page
def post_quirks(post_id: int) -> tuple[bool, bool, bool]:
    """Per-post data quirks of the site: (``//`` in URLs, ``?{id}`` on file_url, directory as a string).

    Drawn from a hash of the id, not from the corpus seed, so a post keeps its quirks whatever corpus it is in.
    """
    h = hashlib.md5(f"samplebooru-quirks:{post_id}".encode()).digest()
    variant = h[0] % 10
    return variant in (0, 2), variant in (1, 2), h[1] % 10 == 0


@functools.cache
def creator_id(owner: str) -> int:
    """A stable numeric id for an owner name (the XML carries ``creator_id``, the JSON the name)."""
    return int(hashlib.md5(owner.encode()).hexdigest()[:5], 16)


def tag_id(name: str) -> int:
    """A stable id for a tag name, so the tags API's ``id``/``after_id`` agree across servers and runs."""
    return 1 + int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big") % 999_983


def post_urls(p: Post, base: str) -> tuple[str, str, str]:
    """(file_url, sample_url, preview_url) as the site writes them, quirks included."""
    slash, suffix, _ = post_quirks(p.id)
    base = base + ("/" if slash else "")
    file_url = f"{base}/images/{p.directory}/{p.image}" + (f"?{p.id}" if suffix else "")
    sample_url = f"{base}/samples/{p.directory}/sample_{p.stem}.jpg" if p.sample else file_url
    preview_url = f"{base}/thumbnails/{p.directory}/thumbnail_{p.stem}.jpg"
    return file_url, sample_url, preview_url


def json_record(p: Post, base: str) -> dict[str, Any]:
    """One post as the JSON API has it, keys in the site's order (legacy posts have no ``*_url``)."""
    _, _, dir_str = post_quirks(p.id)
    rec: dict[str, Any] = {}
    if not p.legacy:
        file_url, sample_url, preview_url = post_urls(p, base)
        rec.update(preview_url=preview_url, sample_url=sample_url, file_url=file_url)
    sw, sh = p.sample_size if p.sample else (0, 0)
    rec.update(
        directory=str(p.directory) if dir_str else p.directory, hash=p.md5, width=p.width,
        height=p.height, id=p.id, image=p.image, change=p.change, owner=p.owner, parent_id=p.parent_id,
        rating=p.rating, sample=p.sample, sample_height=sh, sample_width=sw, score=p.score,
        tags=" ".join(p.tags), source=p.source, status=p.status, has_notes=p.has_notes,
        comment_count=p.comment_count,
    )
    return rec


def json_posts(page: Sequence[Post], base: str) -> bytes:
    """A JSON page: a bare, compact array; no results is an empty body, not ``[]`` (as on the site)."""
    if not page:
        return b""
    return json.dumps([json_record(p, base) for p in page], separators=(",", ":")).encode()


def _attr(value: object) -> str:
    """An XML attribute value, with ``"`` escaped as well (saxutils only does ``& < >``)."""
    return escape(str(value), {chr(34): "&quot;"})


def xml_post(p: Post, base: str) -> str:
    """One ``<post .../>``: every value a string, ratings as s/q/e, tags padded with a space each side."""
    file_url, sample_url, preview_url = post_urls(p, base)
    sw, sh = p.sample_size
    pw, ph = p.preview_size
    attrs = [
        ("height", p.height), ("score", "" if p.score is None else p.score), ("file_url", file_url),
        ("parent_id", p.parent_id or ""), ("sample_url", sample_url), ("sample_width", sw),
        ("sample_height", sh), ("preview_url", preview_url), ("rating", rating_class(p.rating) or "s"),
        ("tags", f" {' '.join(p.tags)} "), ("id", p.id), ("width", p.width), ("change", p.change),
        ("md5", p.md5), ("creator_id", creator_id(p.owner)),
        ("has_children", str(p.has_children).lower()), ("created_at", format_created_at(p.created_at)),
        ("status", p.status), ("source", p.source), ("has_notes", str(p.has_notes).lower()),
        ("has_comments", str(p.comment_count > 0).lower()), ("preview_width", pw), ("preview_height", ph),
    ]
    attrs = [(k, "s" if k == "rating" and v == "g" else v) for k, v in attrs]
    return "<post " + " ".join(f'{k}="{_attr(v)}"' for k, v in attrs) + "/>"


def xml_posts(page: Sequence[Post], count: int, offset: int, base: str) -> str:
    """The XML posts document; unlike JSON it carries the total ``count`` and the page's ``offset``."""
    head = f'{XML_HEAD}<posts count="{count}" offset="{offset}"'
    if not page:
        return head + "/>"
    return head + ">" + "".join(xml_post(p, base) for p in page) + "</posts>"


def xml_tags(tags: Sequence[tuple[int, str, int, int]]) -> str:
    """The tags API document (always XML) for ``(id, name, count, type)`` rows."""
    return XML_HEAD + '<tags type="array">' + "".join(
        f'<tag type="{typ}" count="{n}" name="{_attr(name)}" ambiguous="false" '
        f'id="{tid}"/>' for tid, name, n, typ in tags) + "</tags>"
