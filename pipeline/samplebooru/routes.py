"""The sample booru's routing: from a raw request path to a ``Response``, faults included.

``Router.respond`` parses the path and query the way the site does (``//`` and percent-escapes in paths
are tolerated, the first of a repeated query parameter wins) and dispatches to the posts API, the tags
API, the files (images, samples, thumbnails) or robots.txt. Every request that the fault plan covers
goes through ``Faults.decide`` exactly once, in the order the original single-class server used, so
a seed gives the same faults whatever the code layout. The HTTP side (sockets, headers, the request
log) is ``server``'s; how records are spelled is ``wire``'s; samples and thumbnails are ``derived``'s.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from pipeline.samplebooru import spec as _spec
from pipeline.samplebooru import wire
from pipeline.samplebooru.corpus import Corpus, Post
from pipeline.samplebooru.derived import DerivedCache
from pipeline.samplebooru.faults import Fault, Faults, corrupt
from pipeline.samplebooru.query import search

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
CHARACTER_TAG, GENERAL_TAG = 4, 0
SEARCH_CACHE_SIZE = 64  # distinct tag searches kept: a crawl pages through a few queries at a time
_CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                  "webp": "image/webp"}
_FILE_KINDS = {"images": "image", "samples": "sample", "thumbnails": "thumbnail"}
_TAG_FIELDS = {"count": 2, "name": 1, "id": 0, "date": 0}  # orderby -> column of a tag row

TagRow = tuple[int, str, int, int]  # (id, name, count, type), the tags API's columns


@dataclass
class Response:
    """One answer, before it is put on the socket (``kind`` as in ``RequestRecord``)."""

    status: int
    body: bytes
    content_type: str
    kind: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    truncate_at: int | None = None  # send this many body bytes then close


def _int(value: str | None, default: int) -> int:
    """``int(value)``, or ``default`` for a missing, empty or malformed value (the site never errors)."""
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _page_args(params: dict[str, str]) -> tuple[int, int]:
    """(limit, pid) as both APIs read them: limit defaults to 100, negative means default, capped at 1000."""
    limit = _int(params.get("limit"), DEFAULT_LIMIT)
    limit = DEFAULT_LIMIT if limit < 0 else min(limit, MAX_LIMIT)
    return limit, max(0, _int(params.get("pid"), 0))


def _like(pattern: str) -> Callable[[str], bool]:
    """A matcher for SQL LIKE ``pattern`` (``%`` any run, ``_`` any one character), case-insensitive."""
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    compiled = re.compile(f"^{rx}$", re.IGNORECASE | re.DOTALL)
    return lambda s: compiled.match(s) is not None


def tag_table(posts: Sequence[Post]) -> list[TagRow]:
    """The tags API's rows for ``posts``: every tag with its post count; cast names are character tags."""
    counts = Counter(t for p in posts for t in p.tags)
    characters = set(getattr(_spec, "CAST_BY_NAME", {}))
    return [(wire.tag_id(name), name, n, CHARACTER_TAG if name in characters else GENERAL_TAG)
            for name, n in counts.items()]


def select_tags(tags: list[TagRow], params: dict[str, str]) -> list[TagRow]:
    """The page of ``tags`` that the tags API's filters, order and paging parameters ask for."""
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
    if not orderby and order in ("count", "name", "id", "date"):  # older clients put both in ``order``
        orderby = order
    if not direction and order in ("asc", "desc"):
        direction = order
    field_ = _TAG_FIELDS.get(orderby or "name", 1)
    descending = direction == "desc" if direction else field_ == 2
    tags = sorted(tags, key=lambda t: (t[field_], t[1]), reverse=descending)
    limit, pid = _page_args(params)
    return tags[pid * limit:pid * limit + limit]


def not_found(kind: str) -> Response:
    """The nginx 404 page, for unknown paths and missing files alike."""
    return Response(404, wire.HTML_404, "text/html", kind)


def fault_response(fault: Fault, kind: str) -> Response | None:
    """The answer a fault replaces the real one with, or None for faults that alter the real answer."""
    if fault.kind == "status":
        headers = [("Retry-After", str(fault.retry_after))] if fault.retry_after is not None else []
        return Response(fault.status, wire.status_page(fault.status), "text/html", kind, headers)
    if fault.kind == "html":
        return Response(200, wire.HTML_DB_ERROR, "text/html; charset=utf-8", kind)
    if fault.kind == "xml_error":
        return Response(200, wire.XML_ERROR, "text/xml; charset=utf-8", kind)
    return None


def finish(resp: Response, fault: Fault | None) -> Response:
    """``resp`` with a truncate fault applied: the handler then sends only part of the body and closes."""
    if fault is not None and fault.kind == "truncate":
        resp.truncate_at = int(len(resp.body) * fault.fraction)
    return resp


class Router:
    """Answers requests for ``corpus`` as Safebooru would, with ``faults`` injected.

    ``base_url`` is asked for when a record needs absolute URLs: the port is only known once the
    server is bound. ``derived`` makes the samples and thumbnails. ``depth_cap`` and ``robots_txt``
    are read on every request, so changing them on a running server takes effect at once.
    """

    def __init__(self, corpus: Corpus, faults: Faults, depth_cap: int, robots_txt: str,
                 derived: DerivedCache, base_url: Callable[[], str]):
        self.corpus = corpus
        self.faults = faults
        self.depth_cap = depth_cap
        self.robots_txt = robots_txt
        self.derived = derived
        self._base_url = base_url
        self._posts: list[Post] = sorted(corpus.posts, key=lambda p: p.id, reverse=True)
        self._by_id = {p.id: p for p in self._posts}
        self._by_image: dict[tuple[str, str], Post] = {}
        self._by_stem: dict[tuple[str, str], Post] = {}
        for p in reversed(self._posts):  # on a (theoretical) name clash the older post wins
            self._by_image.setdefault((str(p.directory), p.image), p)
            self._by_stem.setdefault((str(p.directory), p.stem), p)
        self._tags = tag_table(self._posts)
        self._search_cache: OrderedDict[str, list[Post]] = OrderedDict()
        self._search_lock = threading.Lock()

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
                # The fault key ignores parameter order, so a retry in another spelling is the same request.
                key = norm + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
                if params["s"] == "post":
                    return self._api_posts(params, key)
                return self._api_tags(params, key)
            return not_found("other")
        if norm == "/robots.txt":
            return Response(200, self.robots_txt.encode(), "text/plain; charset=utf-8", "robots")
        if len(segments) == 3 and segments[0] in _FILE_KINDS:
            return self._file(segments[0], segments[1], segments[2], norm)
        return not_found("other")

    # ----------------------------------------------------------------- posts API

    def _search(self, tags: str) -> list[Post]:
        """The posts matching ``tags``, newest first; a few recent searches are kept for paging."""
        norm = " ".join(tags.split())
        with self._search_lock:
            hit = self._search_cache.get(norm)
            if hit is not None:
                self._search_cache.move_to_end(norm)
                return hit
        found = search(self._posts, norm)
        with self._search_lock:
            self._search_cache[norm] = found
            while len(self._search_cache) > SEARCH_CACHE_SIZE:
                self._search_cache.popitem(last=False)
        return found

    def _api_posts(self, params: dict[str, str], key: str) -> Response:
        """A page of the posts API, JSON or XML; past the depth cap, the abuse answer (even for JSON)."""
        limit, pid = _page_args(params)
        offset = pid * limit
        if offset > self.depth_cap:
            fault = self.faults.decide(key, "api")
            error = fault_response(fault, "api") if fault else None
            return error or finish(Response(200, wire.ABUSE_XML.encode(), "text/xml; charset=utf-8", "api"),
                                   fault)
        if params.get("id", "") != "":
            post = self._by_id.get(_int(params["id"], -1))
            matches = [post] if post is not None else []
        else:
            matches = self._search(params.get("tags", ""))
        page = matches[offset:offset + limit]
        fault = self.faults.decide(key, "api", paged=bool(page))
        if fault is not None:
            error = fault_response(fault, "api")
            if error is not None:
                return error
            if fault.kind == "short":
                page = page[:int(len(page) * fault.fraction)]
        base = self._base_url() if page else ""  # an empty page names no URL (nor needs a bound port)
        if params.get("json") == "1":
            resp = Response(200, wire.json_posts(page, base), "application/json; charset=utf-8", "api")
        else:
            body = wire.xml_posts(page, len(matches), offset, base).encode()
            resp = Response(200, body, "text/xml; charset=utf-8", "api")
        return finish(resp, fault)

    # ----------------------------------------------------------------- tags API

    def _api_tags(self, params: dict[str, str], key: str) -> Response:
        """A page of the tags API (always XML, whatever ``json`` says)."""
        tags = select_tags(self._tags, params)
        fault = self.faults.decide(key, "tag")
        if fault is not None:
            error = fault_response(fault, "tag")
            if error is not None:
                return error
        return finish(Response(200, wire.xml_tags(tags).encode(), "text/xml; charset=utf-8", "tag"), fault)

    # ----------------------------------------------------------------- files

    def _lookup(self, kind: str, directory: str, name: str) -> Post | None:
        """The post whose ``kind`` file is ``/{folder}/{directory}/{name}``; samples only for posts with one."""
        if kind == "image":
            return self._by_image.get((directory, name))
        prefix = "sample_" if kind == "sample" else "thumbnail_"
        post: Post | None = None
        if name.startswith(prefix) and name.endswith(".jpg"):
            post = self._by_stem.get((directory, name[len(prefix):-4]))
        if post is not None and kind == "sample" and not post.sample:
            post = None
        return post

    def _file(self, folder: str, directory: str, name: str, norm: str) -> Response:
        """An image (the corpus bytes), sample or thumbnail; a fault may also hit a 404."""
        kind = _FILE_KINDS[folder]
        post = self._lookup(kind, directory, name)
        fault = self.faults.decide(norm, kind, post_id=post.id if post else None)
        if fault is not None:
            error = fault_response(fault, kind)
            if error is not None:
                return error
        if post is None:
            return finish(not_found(kind), fault)
        if kind == "image":
            data = self.corpus.file_bytes(post.id)
            ctype = _CONTENT_TYPES.get(post.image.rsplit(".", 1)[-1].lower(), "application/octet-stream")
        else:
            derived = self.derived.get(post, kind)
            if derived is None:
                return finish(not_found(kind), fault)
            data, ctype = derived, "image/jpeg"
        if fault is not None and fault.kind == "corrupt":
            data = corrupt(data, fault.salt)
        return finish(Response(200, data, ctype, kind), fault)
