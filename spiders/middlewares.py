"""PoliteMiddleware: 429/503 pause the whole host for Retry-After seconds, then the request is retried.

The configured rate itself is Scrapy's per-host DOWNLOAD_DELAY (1/rate, not randomised): the downloader
starts at most one request per delay on a host, whatever the concurrency. On a 429/503 this middleware
pushes the host slot's clock forward, so requests already queued wait too, and holds new ones at the
door until the pause is over.
"""

from __future__ import annotations

import asyncio
import logging
import time

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from pipeline.crawl import CrawlConfig, host_of, parse_retry_after

logger = logging.getLogger("linecolor.crawl")
PAUSE_CODES = (429, 503)


class PoliteMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.cfg: CrawlConfig = crawler.settings["LINECOLOR_CRAWL"]
        self.pause_until: dict[str, float] = {}  # host -> monotonic time

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PoliteMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        host = host_of(request.url)
        wait = self.pause_until.get(host, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in PAUSE_CODES:
            return response
        stats = self.crawler.stats
        stats.inc_value(f"crawl/http_{response.status}")
        n = request.meta.get("polite_retries", 0)
        pause = parse_retry_after(response.headers.get("Retry-After"))
        if pause is None:
            pause = self.cfg.retry.backoff * 2**n
        if pause > self.cfg.retry.max_retry_after or n >= max(self.cfg.retry.times, 1) * 3:
            logger.warning("giving up on %s after %d x HTTP %d (Retry-After %.0fs)", request.url, n + 1,
                           response.status, pause)
            return response
        self._pause(host_of(request.url), pause)
        stats.inc_value("crawl/retry_after_waits")
        retry = request.replace(dont_filter=True)
        retry.meta["polite_retries"] = n + 1
        return retry

    def _pause(self, host: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self.pause_until[host] = max(self.pause_until.get(host, 0.0), until)
        downloader = self.crawler.engine.downloader if self.crawler.engine else None
        for key, slot in (downloader.slots.items() if downloader else ()):
            if key == host or key.endswith("." + host):
                # the slot starts its next request at lastseen + delay
                slot.lastseen = max(slot.lastseen, until - slot.delay)

