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

This module is the HTTP side: lifecycle, the request log and the handler. ``routes`` decides what a
path is answered with, ``wire`` spells the JSON/XML, ``derived`` makes samples and thumbnails.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from pipeline.samplebooru.corpus import Corpus, Post
from pipeline.samplebooru.derived import DERIVED_CACHE_BYTES, DerivedCache
from pipeline.samplebooru.faults import PROFILES, Faults
from pipeline.samplebooru.routes import Response, Router
from pipeline.samplebooru.wire import ABUSE_XML
from pipeline.samplebooru.wire import format_created_at as format_created_at  # defined here before the split

__all__ = ["PROFILES", "RequestRecord", "SampleBooru", "DEFAULT_ROBOTS_TXT", "ABUSE_XML"]

DEFAULT_ROBOTS_TXT = "User-agent: *\nDisallow: /admin/\n"
KINDS = ("api", "tag", "image", "sample", "thumbnail", "robots", "other")


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it (``t``: when it arrived, before its answer was made, so that gaps
    between requests are the client's and not the rendering's; ``nbytes``: the body bytes it sent; short when
    truncated)."""

    t: float
    method: str
    path: str
    query: str
    status: int
    nbytes: int
    kind: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    booru: SampleBooru


class _Handler(BaseHTTPRequestHandler):
    """Puts a ``Response`` on the socket as nginx would, and logs it before the body goes out."""

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
        """Answer one request; Content-Length is always the full body's, even when a fault truncates it."""
        arrived, booru = time.time(), self.server.booru
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
        booru._record(RequestRecord(arrived, self.command, path, query, resp.status, len(sent), resp.kind))
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


def _forward(name: str) -> property:
    """An attribute that lives on the router, read and set through the SampleBooru: one source of truth."""
    return property(lambda self: getattr(self._router, name),
                    lambda self, value: setattr(self._router, name, value))


class SampleBooru:
    """Serve ``corpus`` on ``127.0.0.1`` as Safebooru would. Use as a context manager or start()/stop().

    ``faults``: one of ``PROFILES``; ``seed``: seeds the fault decisions; ``depth_cap``: the deepest
    ``pid * limit`` the API answers; ``robots_txt``: the robots.txt text (default: allow all but /admin/);
    ``rate``: requests/s of the ``ratelimit``/``chaos`` token bucket; ``log``: a file to append one JSON
    line per request to; ``latency``: seconds each answer waits before it goes out, to emulate the
    round trip to a real site (0 = loopback speed).

    This class owns the lifecycle and the request log; what is answered is ``routes.Router``'s.
    """

    corpus = _forward("corpus")
    faults = _forward("faults")
    depth_cap = _forward("depth_cap")
    robots_txt = _forward("robots_txt")

    def __init__(self, corpus: Corpus, faults: str = "none", seed: int = 0, depth_cap: int = 200_000,
                 robots_txt: str | None = None, rate: float = 20.0, log: str | Path | None = None,
                 derived_cache_bytes: int = DERIVED_CACHE_BYTES, latency: float = 0.0):
        plan = Faults(faults, seed, rate=rate)
        self.latency = latency
        self.seed = seed
        self.log_path = Path(log) if log is not None else None
        self._derived = DerivedCache(corpus.file_bytes, derived_cache_bytes)
        self._router = Router(corpus, plan, depth_cap, DEFAULT_ROBOTS_TXT if robots_txt is None else robots_txt,
                              self._derived, lambda: self.url)
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._log_file: Any = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self, port: int = 0) -> SampleBooru:
        """Bind ``port`` (0: any free one) and serve from a daemon thread, so a test never hangs on exit."""
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
        """Stop serving and close idle keep-alive connections, whose threads would otherwise linger."""
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
        """A copy of the request log, so a test can read it while the server keeps appending."""
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, rec: RequestRecord) -> None:
        """Log one answered request (and append it to ``log``, flushed: a crashed run keeps its trace)."""
        with self._log_lock:
            self._log.append(rec)
            if self._log_file is not None:
                self._log_file.write(json.dumps(rec.__dict__) + "\n")
                self._log_file.flush()

    def _track(self, conn: socket.socket, add: bool) -> None:
        """Remember open connections, for ``stop`` to shut down."""
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    # ----------------------------------------------------------------- answers

    def respond(self, raw_path: str) -> Response:
        """The answer to a GET of ``raw_path`` (path plus query), faults included."""
        return self._router.respond(raw_path)

    def derived(self, post: Post, kind: str) -> bytes | None:
        """The JPEG sample or thumbnail of ``post`` (None when the file cannot be decoded). LRU cached."""
        return self._derived.get(post, kind)
