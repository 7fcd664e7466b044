"""Item pipelines: the journal (resume state) and the content-addressed file store.

JournalPipeline appends each page's posts and progress to the journal before anything is fetched, and at
the end writes posts.parquet from the journal. StorePipeline downloads each accepted post's file through
Scrapy's downloader (so the rate limit, robots.txt, retries and Retry-After apply), checks its md5 against
the API's hash, re-downloads a mismatching file ``retry.md5_retries`` times, and writes it with a temp
file + rename under ``images/<md5[:2]>/<md5>.<ext>``: a file in the store is always complete and verified,
so resuming skips it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest

from pipeline.crawl import CrawlConfig, CrawlState, allowed_hosts, build_manifest, host_of
from pipeline.manifest import RAW_POSTS, write_manifest
from pipeline.store import atomic_write_bytes, image_relpath
from spiders.items import FetchItem, PageItem

logger = logging.getLogger("linecolor.crawl")


class JournalPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.raw_dir = Path(crawler.settings["LINECOLOR_RAW_DIR"])
        self.state: CrawlState = crawler.settings["LINECOLOR_STATE"]

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JournalPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PageItem):
            self.state.record_page(item.query, item.posts, item.top, item.cursor, item.done)
            stats = self.crawler.stats
            stats.inc_value("crawl/posts_listed", len(item.posts))
            stats.inc_value("crawl/posts_rejected", sum(1 for p in item.posts if p["reason"]))
        return item

    def close_spider(self) -> None:
        state = self.state
        if state.all_done:
            state.end_run()
        try:
            if state.posts or state.all_done:
                write_manifest(build_manifest(state), RAW_POSTS.path(self.raw_dir), RAW_POSTS)
        finally:
            state.close()  # flush and fsync the journal even if the manifest could not be written


class StorePipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.cfg: CrawlConfig = crawler.settings["LINECOLOR_CRAWL"]
        self.raw_dir = Path(crawler.settings["LINECOLOR_RAW_DIR"])
        self.state: CrawlState = crawler.settings["LINECOLOR_STATE"]
        self.hosts = allowed_hosts(crawler.settings["LINECOLOR_BASE_URL"])
        self.inflight: dict[str, asyncio.Future] = {}
        # Fewer file downloads in flight than the downloader's concurrency: the next API page never waits
        # behind a whole page of files (Scrapy holds new requests while the downloader is full).
        self.slots = asyncio.Semaphore(max(1, self.cfg.concurrency - 1))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, (PageItem, FetchItem)):
            todo = [p for p in item.posts if not p["reason"]]
            if todo:
                await asyncio.gather(*(self.fetch(p) for p in todo))
        return item

    async def fetch(self, post: dict[str, Any]) -> None:
        state = self.state
        relpath = image_relpath(post["md5"], post["ext"])
        dest = self.raw_dir / relpath
        # Same bytes for another post: wait for that download. If it failed, the waiters try again one at a
        # time (a loop, since another waiter may have started a download meanwhile).
        while (pending := self.inflight.get(relpath)) is not None:
            await asyncio.shield(pending)
        if dest.exists():  # written only after its md5 was checked
            self.crawler.stats.inc_value("crawl/files_existing")
            state.record_file(post["id"], "ok", "", relpath, dest.stat().st_size)
            return
        fut = self.inflight[relpath] = asyncio.get_running_loop().create_future()
        try:
            status, reason, size = await self._download(post, dest)
        finally:
            fut.set_result(None)
            if self.inflight.get(relpath) is fut:
                del self.inflight[relpath]
        stats = self.crawler.stats
        if status == "ok":
            stats.inc_value("crawl/files_fetched")
            stats.inc_value("crawl/bytes", size)
        else:
            stats.inc_value(f"crawl/files_{status}")
            stats.inc_value(f"crawl/reason/{reason}")
            logger.info("post %s: %s (%s)", post["id"], status, reason)
        state.record_file(post["id"], status, reason, relpath if status == "ok" else None,
                          size if status == "ok" else None)

    async def _download(self, post: dict[str, Any], dest: Path) -> tuple[str, str, int | None]:
        url = post["file_url"]
        if host_of(url) not in self.hosts:
            return "rejected", "foreign_host", None
        reason = ""
        for _ in range(self.cfg.retry.md5_retries + 1):
            request = Request(url, dont_filter=True, meta={
                "download_maxsize": self.cfg.max_file_bytes, "dont_redirect": True,
                "handle_httpstatus_all": True, "linecolor_kind": "file"})
            try:
                async with self.slots:
                    response = await self.crawler.engine.download_async(request)
            except DownloadCancelledError:
                return "rejected", "too_large", None
            except IgnoreRequest as exc:
                return "rejected", "robots" if "robots" in str(exc).lower() else "ignored", None
            except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded reason
                return "failed", _exc_reason(exc), None
            if response.status != 200:
                return "failed", f"http_{response.status}", None
            body = response.body
            if len(body) > self.cfg.max_file_bytes:
                return "rejected", "too_large", None
            ok = await asyncio.to_thread(_verify_and_store, body, post["md5"], dest)
            if ok:
                return "ok", "", len(body)
            self.crawler.stats.inc_value("crawl/md5_retries")
            reason = "md5_mismatch" if body else "empty_file"
        return "failed", reason, None


def _verify_and_store(body: bytes, md5: str, dest: Path) -> bool:
    if hashlib.md5(body).hexdigest() != md5:
        return False
    atomic_write_bytes(dest, body)
    return True


def _exc_reason(exc: BaseException) -> str:
    name = type(exc).__name__
    return {
        "DownloadTimeoutError": "timeout", "DownloadConnectionRefusedError": "connection_refused",
        "ResponseDataLossError": "truncated", "CannotResolveHostError": "dns",
    }.get(name, "error_" + name.lower())
