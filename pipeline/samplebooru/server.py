"""The sample booru: a loopback HTTP server that speaks Safebooru's API, quirks included.

It serves a ``Corpus`` as Safebooru (Gelbooru 0.2) would (see docs in shared/reference/safebooru-api.md)::

    with SampleBooru(corpus, faults="none", seed=0, depth_cap=200_000, robots_txt=None) as booru:
        requests.get(booru.url + "/index.php?page=dapi&s=post&q=index&json=1&tags=1girl&limit=100")
        booru.requests   # what the server saw: list[RequestRecord]

Endpoints:

- ``/index.php?page=dapi&s=post&q=index&tags=&limit=&pid=[&json=1][&id=]``: posts, id descending by
  default. ``limit`` defaults to 100 and is clamped to 1000; ``pid`` is a page index. When
  ``pid * limit > depth_cap`` the answer (even with ``json=1``) is HTTP 200 with
  ``<response success="false" reason="Search error: API limited due to abuse."/>``.
  JSON: a bare array of the real record's fields (no total count); no results = HTTP 200, empty body.
  Legacy posts carry no ``*_url`` fields; some posts' ``directory`` is a string; some ``file_url``
  values carry ``//`` and/or a ``?{id}`` suffix; ``sample_width``/``sample_height`` are 0 when ``sample``
  is false (``sample_url`` then points at the file).
  XML: ``<posts count="TOTAL" offset="PID*LIMIT">``, every value a string, ratings as s/q/e.
- ``/index.php?page=dapi&s=tag&q=index&name_pattern=&name=&names=&id=&order=&orderby=&direction=&limit=&pid=``:
  tags, always XML. ``name_pattern`` uses SQL LIKE (``%`` any run, ``_`` any one character).
- ``/images/{directory}/{image}``: the corpus file's exact bytes (md5 = ``hash``).
- ``/samples/{directory}/sample_{stem}.jpg`` (posts with ``sample``: 850 px wide JPEG) and
  ``/thumbnails/{directory}/thumbnail_{stem}.jpg`` (at most 150 px): made lazily from the file, kept in an
  LRU cache; 404 when the file cannot be decoded (broken uploads).
- ``/robots.txt``. Anything else: 404 HTML. Paths tolerate ``//`` and a ``?{id}`` suffix.

Faults (``faults=``, see ``faults.PROFILES``) are reproducible from ``seed``. The server is a
``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, Content-Length on every answer).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import socket
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

from PIL import Image, ImageOps

from pipeline.samplebooru import spec as _spec
from pipeline.samplebooru.corpus import Corpus, Post
from pipeline.samplebooru.faults import PROFILES, Fault, Faults, corrupt
from pipeline.samplebooru.query import rating_class, search

__all__ = ["PROFILES", "RequestRecord", "SampleBooru", "DEFAULT_ROBOTS_TXT", "ABUSE_XML"]

DEFAULT_ROBOTS_TXT = "User-agent: *\nDisallow: /admin/\n"
ABUSE_XML = ('<?xml version="1.0" encoding="UTF-8"?>'
             '<response success="false" reason="Search error: API limited due to abuse."/>')
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
CHARACTER_TAG, GENERAL_TAG = 4, 0
SAMPLE_QUALITY, THUMB_QUALITY = 85, 80
DERIVED_CACHE_BYTES = 128 * 2**20
MAX_DECODE_PIXELS = 50_000_000
KINDS = ("api", "tag", "image", "sample", "thumbnail", "robots", "other")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
try:  # The real site's clock is on European time (+0100 in winter, +0200 in summer).
    from zoneinfo import ZoneInfo

    _TZ: dt.tzinfo = ZoneInfo("Europe/Berlin")
except Exception:  # pragma: no cover - no tz database
    _TZ = dt.timezone(dt.timedelta(hours=1))

_CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                  "webp": "image/webp"}
_HTML_404 = (b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found"
             b"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
_HTML_DB_ERROR = (b"<!DOCTYPE html><html><head><title>Safebooru</title></head><body><div id=\"content\">"
                  b"<h1>Database error</h1><p>Too many connections. Please try again in a moment.</p>"
                  b"</div></body></html>\n")
_XML_ERROR = (XML_HEAD + '<response success="false" reason="Search error: Internal error, please try '
              'again."/>').encode()
_STATUS_TEXT = {429: "429 Too Many Requests", 500: "500 Internal Server Error", 502: "502 Bad Gateway",
                503: "503 Service Temporarily Unavailable", 504: "504 Gateway Time-out"}


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it (``nbytes``: the body bytes it sent; short when truncated)."""

    t: float
    method: str
    path: str
    query: str
    status: int
    nbytes: int
    kind: str


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str
    kind: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    truncate_at: int | None = None  # send this many body bytes then close


@functools.lru_cache(maxsize=65536)
def format_created_at(ts: int) -> str:
    """``Fri Mar 18 03:02:02 +0100 2022`` (``%a %b %d %H:%M:%S %z %Y`` in the C locale)."""
    d = dt.datetime.fromtimestamp(ts, _TZ)
    return (f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d} {d:%H:%M:%S} {d.strftime('%z')} "
            f"{d.year}")


@functools.lru_cache(maxsize=1 << 18)  # pure in the id, asked for every post of every page
def _post_quirks(post_id: int) -> tuple[bool, bool, bool]:
    """Per-post data quirks of the site: (``//`` in URLs, ``?{id}`` on file_url, directory as a string)."""
    h = hashlib.md5(f"samplebooru-quirks:{post_id}".encode()).digest()
    variant = h[0] % 10
    return variant in (0, 2), variant in (1, 2), h[1] % 10 == 0


@functools.cache
def _creator_id(owner: str) -> int:
    return int(hashlib.md5(owner.encode()).hexdigest()[:5], 16)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _like(pattern: str) -> Callable[[str], bool]:
    import re

    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    compiled = re.compile(f"^{rx}$", re.IGNORECASE | re.DOTALL)
    return lambda s: compiled.match(s) is not None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    booru: SampleBooru


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are dropped after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.booru._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.booru._track(self.connection, False)

    def version_string(self) -> str:
        return "nginx"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        booru = self.server.booru
        path, _, query = self.path.partition("?")
        try:
            resp = booru.respond(self.path)
        except Exception as exc:  # a bug must not kill the connection silently
            body = f"<html><body><h1>500 Internal Server Error</h1><pre>{escape(repr(exc))}</pre></body></html>"
            resp = Response(500, body.encode(), "text/html; charset=utf-8", "other")
        if booru.latency > 0:  # the network round trip and server time of a real site (sleeps, no CPU)
            time.sleep(booru.latency)
        body = resp.body if not head else b""
        sent = body if resp.truncate_at is None else body[:resp.truncate_at]
        if resp.truncate_at is not None and not head:
            self.close_connection = True
        # Recorded before the body goes out, so a client that has its answer also finds it in the log.
        booru._record(RequestRecord(time.time(), self.command, path, query, resp.status, len(sent), resp.kind))
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for k, v in resp.headers:
                self.send_header(k, v)
            self.end_headers()
            if sent:
                self.wfile.write(sent)
        except OSError:
            self.close_connection = True


class SampleBooru:
    """Serve ``corpus`` on ``127.0.0.1`` as Safebooru would. Use as a context manager or start()/stop().

    ``faults``: one of ``PROFILES``; ``seed``: seeds the fault decisions; ``depth_cap``: the deepest
    ``pid * limit`` the API answers; ``robots_txt``: the robots.txt text (default: allow all but /admin/);
    ``rate``: requests/s of the ``ratelimit``/``chaos`` token bucket; ``log``: a file to append one JSON
    line per request to; ``latency``: seconds each answer waits before it goes out, to emulate the
    round trip to a real site (0 = loopback speed).
    """

    def __init__(self, corpus: Corpus, faults: str = "none", seed: int = 0, depth_cap: int = 200_000,
                 robots_txt: str | None = None, rate: float = 20.0, log: str | Path | None = None,
                 derived_cache_bytes: int = DERIVED_CACHE_BYTES, latency: float = 0.0):
        self.corpus = corpus
        self.latency = latency
        self.faults = Faults(faults, seed, rate=rate)
        self.seed = seed
        self.depth_cap = depth_cap
        self.robots_txt = DEFAULT_ROBOTS_TXT if robots_txt is None else robots_txt
        self.log_path = Path(log) if log is not None else None
        self._posts: list[Post] = sorted(corpus.posts, key=lambda p: p.id, reverse=True)
        self._by_id = {p.id: p for p in self._posts}
        self._by_image: dict[tuple[str, str], Post] = {}
        self._by_stem: dict[tuple[str, str], Post] = {}
        for p in reversed(self._posts):  # on a (theoretical) name clash the older post wins
            self._by_image.setdefault((str(p.directory), p.image), p)
            self._by_stem.setdefault((str(p.directory), p.stem), p)
        counts = Counter(t for p in self._posts for t in p.tags)
        characters = set(getattr(_spec, "CAST_BY_NAME", {}))
        self._tags = [
            (self._tag_id(name), name, n, CHARACTER_TAG if name in characters else GENERAL_TAG)
            for name, n in counts.items()
        ]
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._log_file: Any = None
        self._search_cache: OrderedDict[str, list[Post]] = OrderedDict()
        self._search_lock = threading.Lock()
        self._derived: OrderedDict[tuple[int, str], bytes | None] = OrderedDict()
        self._derived_bytes, self._derived_budget = 0, derived_cache_bytes
        self._derived_lock = threading.Lock()
        self._gen_locks: dict[tuple[int, str], threading.Lock] = {}
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self, port: int = 0) -> SampleBooru:
        if self._server is not None:
            raise RuntimeError("already started")
        if self.log_path is not None:
            self._log_file = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        server = _Server(("127.0.0.1", port), _Handler)
        server.booru = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="samplebooru", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:  # drop idle keep-alive connections so their threads end
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._log_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> SampleBooru:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, rec: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(rec)
            if self._log_file is not None:
                self._log_file.write(json.dumps(rec.__dict__) + "\n")
                self._log_file.flush()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ----------------------------------------------------------------- routing

    def respond(self, raw_path: str) -> Response:
        """The answer to a GET of ``raw_path`` (path plus query), faults included."""
        path, _, query = raw_path.partition("?")
        segments = [unquote(s) for s in path.split("/") if s]
        norm = "/" + "/".join(segments)
        if norm == "/index.php":
            params: dict[str, str] = {}
            for k, v in parse_qsl(query, keep_blank_values=True):
                params.setdefault(k, v)
            if params.get("page") == "dapi" and params.get("q") == "index" and params.get("s") in ("post", "tag"):
                key = norm + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
                if params["s"] == "post":
                    return self._api_posts(params, key)
                return self._api_tags(params, key)
            return self._not_found("other")
        if norm == "/robots.txt":
            return Response(200, self.robots_txt.encode(), "text/plain; charset=utf-8", "robots")
        if len(segments) == 3 and segments[0] in ("images", "samples", "thumbnails"):
            return self._file(segments[0], segments[1], segments[2], norm)
        return self._not_found("other")

    def _not_found(self, kind: str) -> Response:
        return Response(404, _HTML_404, "text/html", kind)

    def _fault_response(self, fault: Fault, kind: str) -> Response | None:
        if fault.kind == "status":
            text = _STATUS_TEXT.get(fault.status, str(fault.status))
            body = (f"<html>\r\n<head><title>{text}</title></head>\r\n<body>\r\n<center><h1>{text}</h1>"
                    f"</center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n").encode()
            headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
            return Response(fault.status, body, "text/html", kind, headers)
        if fault.kind == "html":
            return Response(200, _HTML_DB_ERROR, "text/html; charset=utf-8", kind)
        if fault.kind == "xml_error":
            return Response(200, _XML_ERROR, "text/xml; charset=utf-8", kind)
        return None

    @staticmethod
    def _finish(resp: Response, fault: Fault | None) -> Response:
        if fault is not None and fault.kind == "truncate":
            resp.truncate_at = int(len(resp.body) * fault.fraction)
        return resp

    # ----------------------------------------------------------------- posts API

    def _search(self, tags: str) -> list[Post]:
        norm = " ".join(tags.split())
        with self._search_lock:
            hit = self._search_cache.get(norm)
            if hit is not None:
                self._search_cache.move_to_end(norm)
                return hit
        found = search(self._posts, norm)
        with self._search_lock:
            self._search_cache[norm] = found
            while len(self._search_cache) > 64:
                self._search_cache.popitem(last=False)
        return found

    def _api_posts(self, params: dict[str, str], key: str) -> Response:
        limit = _int(params.get("limit"), DEFAULT_LIMIT)
        limit = DEFAULT_LIMIT if limit < 0 else min(limit, MAX_LIMIT)
        pid = max(0, _int(params.get("pid"), 0))
        offset = pid * limit
        as_json = params.get("json") == "1"
        if offset > self.depth_cap:
            fault = self.faults.decide(key, "api")
            error = self._fault_response(fault, "api") if fault else None
            return error or self._finish(Response(200, ABUSE_XML.encode(), "text/xml; charset=utf-8", "api"),
                                         fault)
        if params.get("id", "") != "":
            post = self._by_id.get(_int(params["id"], -1))
            matches = [post] if post is not None else []
        else:
            matches = self._search(params.get("tags", ""))
        page = matches[offset:offset + limit]
        fault = self.faults.decide(key, "api", paged=bool(page))
        if fault is not None:
            error = self._fault_response(fault, "api")
            if error is not None:
                return error
            if fault.kind == "short":
                page = page[:int(len(page) * fault.fraction)]
        if as_json:
            body = json.dumps([self._json_record(p) for p in page], separators=(",", ":")).encode() if page else b""
            resp = Response(200, body, "application/json; charset=utf-8", "api")
        else:
            resp = Response(200, self._xml_posts(page, len(matches), offset).encode(), "text/xml; charset=utf-8",
                            "api")
        return self._finish(resp, fault)

    def _urls(self, p: Post) -> tuple[str, str, str]:
        """(file_url, sample_url, preview_url) as the site writes them, quirks included."""
        slash, suffix, _ = _post_quirks(p.id)
        base = self.url + ("/" if slash else "")
        file_url = f"{base}/images/{p.directory}/{p.image}" + (f"?{p.id}" if suffix else "")
        sample_url = f"{base}/samples/{p.directory}/sample_{p.stem}.jpg" if p.sample else file_url
        preview_url = f"{base}/thumbnails/{p.directory}/thumbnail_{p.stem}.jpg"
        return file_url, sample_url, preview_url

    def _json_record(self, p: Post) -> dict[str, Any]:
        _, _, dir_str = _post_quirks(p.id)
        rec: dict[str, Any] = {}
        if not p.legacy:
            file_url, sample_url, preview_url = self._urls(p)
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

    def _xml_posts(self, page: Sequence[Post], count: int, offset: int) -> str:
        head = f'{XML_HEAD}<posts count="{count}" offset="{offset}"'
        if not page:
            return head + "/>"
        return head + ">" + "".join(self._xml_post(p) for p in page) + "</posts>"

    def _xml_post(self, p: Post) -> str:
        file_url, sample_url, preview_url = self._urls(p)
        sw, sh = p.sample_size
        pw, ph = p.preview_size
        attrs = [
            ("height", p.height), ("score", "" if p.score is None else p.score), ("file_url", file_url),
            ("parent_id", p.parent_id or ""), ("sample_url", sample_url), ("sample_width", sw),
            ("sample_height", sh), ("preview_url", preview_url), ("rating", rating_class(p.rating) or "s"),
            ("tags", f" {' '.join(p.tags)} "), ("id", p.id), ("width", p.width), ("change", p.change),
            ("md5", p.md5), ("creator_id", _creator_id(p.owner)),
            ("has_children", str(p.has_children).lower()), ("created_at", format_created_at(p.created_at)),
            ("status", p.status), ("source", p.source), ("has_notes", str(p.has_notes).lower()),
            ("has_comments", str(p.comment_count > 0).lower()), ("preview_width", pw), ("preview_height", ph),
        ]
        attrs = [(k, "s" if k == "rating" and v == "g" else v) for k, v in attrs]
        return "<post " + " ".join(f'{k}="{escape(str(v), {chr(34): "&quot;"})}"' for k, v in attrs) + "/>"

    # ----------------------------------------------------------------- tags API

    @staticmethod
    def _tag_id(name: str) -> int:
        return 1 + int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big") % 999_983

    def _api_tags(self, params: dict[str, str], key: str) -> Response:
        tags = self._tags
        if params.get("name_pattern"):
            like = _like(params["name_pattern"])
            tags = [t for t in tags if like(t[1])]
        if params.get("name"):
            tags = [t for t in tags if t[1] == params["name"].lower()]
        if params.get("names"):
            wanted = set(params["names"].lower().split())
            tags = [t for t in tags if t[1] in wanted]
        if params.get("id"):
            tags = [t for t in tags if t[0] == _int(params["id"], -1)]
        if params.get("after_id"):
            tags = [t for t in tags if t[0] > _int(params["after_id"], 0)]
        orderby = params.get("orderby", "").lower()
        order = params.get("order", "").lower()
        direction = params.get("direction", "").lower()
        if not orderby and order in ("count", "name", "id", "date"):
            orderby = order
        if not direction and order in ("asc", "desc"):
            direction = order
        field_ = {"count": 2, "name": 1, "id": 0, "date": 0}.get(orderby or "name", 1)
        descending = direction == "desc" if direction else field_ == 2
        tags = sorted(tags, key=lambda t: (t[field_], t[1]), reverse=descending)
        limit = _int(params.get("limit"), DEFAULT_LIMIT)
        limit = DEFAULT_LIMIT if limit < 0 else min(limit, MAX_LIMIT)
        pid = max(0, _int(params.get("pid"), 0))
        tags = tags[pid * limit:pid * limit + limit]
        fault = self.faults.decide(key, "tag")
        if fault is not None:
            error = self._fault_response(fault, "tag")
            if error is not None:
                return error
        body = XML_HEAD + '<tags type="array">' + "".join(
            f'<tag type="{typ}" count="{n}" name="{escape(name, {chr(34): "&quot;"})}" ambiguous="false" '
            f'id="{tid}"/>' for tid, name, n, typ in tags) + "</tags>"
        return self._finish(Response(200, body.encode(), "text/xml; charset=utf-8", "tag"), fault)

    # ----------------------------------------------------------------- files

    def _file(self, folder: str, directory: str, name: str, norm: str) -> Response:
        kind = {"images": "image", "samples": "sample", "thumbnails": "thumbnail"}[folder]
        post: Post | None = None
        if kind == "image":
            post = self._by_image.get((directory, name))
        else:
            prefix = "sample_" if kind == "sample" else "thumbnail_"
            if name.startswith(prefix) and name.endswith(".jpg"):
                post = self._by_stem.get((directory, name[len(prefix):-4]))
            if post is not None and kind == "sample" and not post.sample:
                post = None
        fault = self.faults.decide(norm, kind, post_id=post.id if post else None)
        if fault is not None:
            error = self._fault_response(fault, kind)
            if error is not None:
                return error
        if post is None:
            return self._finish(self._not_found(kind), fault)
        if kind == "image":
            data = self.corpus.file_bytes(post.id)
            ctype = _CONTENT_TYPES.get(post.image.rsplit(".", 1)[-1].lower(), "application/octet-stream")
        else:
            derived = self.derived(post, kind)
            if derived is None:
                return self._finish(self._not_found(kind), fault)
            data, ctype = derived, "image/jpeg"
        if fault is not None and fault.kind == "corrupt":
            data = corrupt(data, fault.salt)
        return self._finish(Response(200, data, ctype, kind), fault)

    def derived(self, post: Post, kind: str) -> bytes | None:
        """The JPEG sample or thumbnail of ``post`` (None when the file cannot be decoded). LRU cached."""
        key = (post.id, kind)
        with self._derived_lock:
            if key in self._derived:
                self._derived.move_to_end(key)
                return self._derived[key]
            lock = self._gen_locks.setdefault(key, threading.Lock())
        with lock:
            with self._derived_lock:
                if key in self._derived:
                    return self._derived[key]
            data = self._make_derived(post, kind)
            with self._derived_lock:
                self._derived[key] = data
                self._derived_bytes += len(data or b"")
                while self._derived_bytes > self._derived_budget and len(self._derived) > 1:
                    _, old = self._derived.popitem(last=False)
                    self._derived_bytes -= len(old or b"")
                self._gen_locks.pop(key, None)
        return data

    def _make_derived(self, post: Post, kind: str) -> bytes | None:
        try:
            im = Image.open(io.BytesIO(self.corpus.file_bytes(post.id)))
            w, h = im.size
            if w * h > MAX_DECODE_PIXELS or min(w, h) < 2 or (w, h) not in ((post.width, post.height),
                                                                          (post.height, post.width)):
                return None  # decompression bomb, 1x1 or a header that lies: the site made no sample
            if kind == "sample":
                target = post.sample_size
            else:
                target = post.preview_size
            if im.format == "JPEG":
                im.draft("RGB", (target[0] * 2, target[1] * 2))
            im.load()
            im = ImageOps.exif_transpose(im) or im
            if im.size[0] != im.size[1] and (im.size[0] > im.size[1]) != (post.width > post.height):
                target = target[::-1]
            rgb = _to_rgb(im).resize(target, Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            rgb.save(buf, format="JPEG", quality=SAMPLE_QUALITY if kind == "sample" else THUMB_QUALITY)
            return buf.getvalue()
        except Exception:  # truncated, not an image, unsupported mode...: no sample/thumbnail
            return None
