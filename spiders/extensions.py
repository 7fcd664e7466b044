"""Progress: posts listed, files fetched, bytes, failures and request rate, every few seconds."""

from __future__ import annotations

import sys
import time

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet import task


class Progress:
    def __init__(self, crawler: Crawler, interval: float):
        self.crawler, self.interval = crawler, interval
        self.t0 = time.monotonic()
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        ext = cls(crawler, crawler.settings.getfloat("PROGRESS_INTERVAL"))
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self) -> None:
        self.t0 = time.monotonic()
        if self.interval > 0:
            self.loop = task.LoopingCall(self.report)
            self.loop.start(self.interval, now=False)

    def closed(self) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()

    def report(self) -> None:
        print("crawl: " + progress_line(self.crawler.stats.get_stats(), time.monotonic() - self.t0),
              file=sys.stderr, flush=True)


def progress_line(s: dict, elapsed: float) -> str:
    reqs = s.get("downloader/response_count", 0)
    failed = s.get("crawl/files_failed", 0)
    return (f"{s.get('crawl/posts_listed', 0)} posts listed, {s.get('crawl/files_fetched', 0)} files fetched "
            f"({s.get('crawl/bytes', 0) / 2**20:.1f} MiB), {s.get('crawl/files_existing', 0)} already stored, "
            f"{failed} failed, {s.get('crawl/files_rejected', 0) + s.get('crawl/posts_rejected', 0)} rejected, "
            f"{reqs / max(elapsed, 1e-9):.1f} req/s, "
            f"{s.get('crawl/files_fetched', 0) / max(elapsed, 1e-9):.1f} files/s, {elapsed:.0f}s")
