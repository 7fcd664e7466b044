"""The command-line life of a loopback server: one ``serving URL`` line, then serve until SIGINT/SIGTERM.

A parent process (a test, a stage) reads the one line from stdout to learn the port; the server stops and
the command exits 0 on either signal. Used by ``python -m pipeline.samplebooru`` and ``python -m pipeline.review``.
"""

from __future__ import annotations

import signal
import threading
from typing import Protocol


class Server(Protocol):
    url: str

    def stop(self) -> None: ...


def serve_until_signalled(server: Server) -> int:
    """Print ``serving <url>`` (flushed), wait for SIGINT or SIGTERM, stop ``server``; return 0."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        print(f"serving {server.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0
