"""The review server: the reports and the image store on 127.0.0.1, and each verdict click one label line.

    with ReviewServer(ReviewPaths(reports=Path("reports"), images=Path("data/raw/images"),
                                  labels=Path("review/labels.csv"),
                                  dedup_labels=Path("review/dedup_labels.csv"))).start(0) as srv:
        srv.url   # http://127.0.0.1:PORT; /reports/filter/index.html, ...

URL paths mirror the folders under their common root, so a report's relative links to full-size files
resolve the same from disk and from the server. A report page is served with ``REVIEW_SCRIPT`` added
before ``</body>`` (the page's own CSP allows exactly that script, by hash): its verdict buttons show, and a
click POSTs ``/_review/verdict``, which appends one line (``guard.record``, locked, whole lines) and
answers what it recorded. Only HTML from the reports folder is served as HTML; the image store serves
pictures as pictures and anything else as a download, so no stored file can run as a page of this origin.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline import report as html
from pipeline.review.guard import Refused, check_request, record, resolve

MAX_BODY = 4096
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
               ".webp": "image/webp", ".bmp": "image/bmp"}
TEXT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css", ".json": "application/json",
              ".csv": "text/csv; charset=utf-8", ".txt": "text/plain; charset=utf-8", ".svg": "image/svg+xml"}
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
PAGE_CSP = html.CSP + "; frame-ancestors 'none'"
FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'"


@dataclass(frozen=True)
class ReviewPaths:
    reports: Path  # served: every stage's report folder is under it
    images: Path  # served: the raw image store (full-size files the reports link to)
    labels: Path  # review/labels.csv: filter verdicts
    dedup_labels: Path  # review/dedup_labels.csv: pair verdicts

    @property
    def root(self) -> Path:
        return Path(os.path.commonpath([self.reports.absolute(), self.images.absolute()]))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    paths: ReviewPaths
    port: int


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "linecolor-review"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass  # stdout carries the one "serving" line; a reviewer's clicks are in the labels files

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in {"Content-Type": ctype, "Content-Length": str(len(body)), **SECURITY_HEADERS,
                     **(extra or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: dict) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", {"Content-Security-Policy": FILE_CSP})

    def _refuse(self, exc: Refused) -> None:
        self._json(exc.status, {"ok": False, "error": exc.why})

    def do_GET(self) -> None:
        paths = self.server.paths
        try:
            check_request(self.headers, self.server.port, write=False)
            if self.path.split("?")[0] == "/":
                return self._page(_listing(paths).encode())
            file = resolve(paths.root, (paths.reports.absolute(), paths.images.absolute()), self.path)
        except Refused as exc:
            return self._refuse(exc)
        if file.suffix == ".html" and file.absolute().is_relative_to(paths.reports.absolute()):
            return self._page(file.read_bytes())
        in_reports = file.absolute().is_relative_to(paths.reports.absolute())
        ctype = IMAGE_TYPES.get(file.suffix.lower()) or (in_reports and TEXT_TYPES.get(file.suffix.lower()))
        extra = {"Content-Security-Policy": FILE_CSP}
        if not ctype or ctype.startswith("text/html"):
            ctype, extra["Content-Disposition"] = "application/octet-stream", "attachment"
        self.send_response(200)
        for k, v in {"Content-Type": ctype, "Content-Length": str(file.stat().st_size), **SECURITY_HEADERS,
                     **extra}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            with open(file, "rb") as f:
                shutil.copyfileobj(f, self.wfile)

    do_HEAD = do_GET

    def _page(self, text: bytes) -> None:
        """A report page with the review script added, so its verdict buttons work."""
        tag = f"<script>{html.REVIEW_SCRIPT}</script></body>".encode()
        at = text.rfind(b"</body>")
        text = text[:at] + tag + text[at + len(b"</body>"):] if at >= 0 else text + tag
        self._send(200, text, "text/html; charset=utf-8", {"Content-Security-Policy": PAGE_CSP})

    def do_POST(self) -> None:
        try:
            check_request(self.headers, self.server.port, write=True)
            if self.path != "/_review/verdict":
                raise Refused(404, "verdicts go to /_review/verdict")
            if self.headers.get("Content-Type", "").split(";")[0].strip().lower() != "application/json":
                raise Refused(415, "a verdict is application/json")
            length = self.headers.get("Content-Length", "")
            length = int(length) if length.isdigit() else -1
            if not 0 <= length <= MAX_BODY:
                raise Refused(413, f"a verdict is at most {MAX_BODY} bytes, with a Content-Length")
            try:
                body = json.loads(self.rfile.read(length))
                recorded = record(body, self.server.paths.labels, self.server.paths.dedup_labels)
            except ValueError as exc:  # JSON errors are ValueErrors too
                raise Refused(400, str(exc)) from None
        except Refused as exc:
            self.close_connection = True
            return self._refuse(exc)
        self._json(200, {"ok": True, "recorded": recorded})


def _listing(paths: ReviewPaths) -> str:
    """The server's front page: a link to every report under the reports folder."""
    root = paths.root
    found = sorted(p for p in paths.reports.absolute().glob("*/index.html"))
    links = [html.el("li", html.link("/".join(p.relative_to(root).parts), p.parent.name)) for p in found]
    return html.page("Reports", [("Reports", html.el("ul", *links) if links else html.el("p", "no reports yet"))],
                     "Verdict buttons under each picture append to the labels files; the next dvc repro uses them.")


class ReviewServer:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 in a background thread; ``start``, ``url``, ``stop``."""

    def __init__(self, paths: ReviewPaths):
        self.paths = paths
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = 0) -> ReviewServer:
        httpd = _Server(("127.0.0.1", port), _Handler)
        httpd.paths, httpd.port = self.paths, httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="review-server", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://127.0.0.1:{self._httpd.port}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ReviewServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
