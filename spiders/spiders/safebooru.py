"""The safebooru spider: lists each configured query through the dapi posts endpoint, newest first.

Paging uses an ``id:<LAST`` cursor with ``pid=0`` (never the depth cap). Each page is asked as JSON; an
empty body, a broken answer or an error status is asked again as XML, whose ``count`` tells "no more
posts" from "a flaky empty page" (retried while ``count`` says more exist). Queries run one after the
other, so a post found by two queries is credited to the first configured one. The spider only parses
and yields: PageItem/FetchItem go to the item pipelines, which journal and download.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure

from pipeline.crawl import (
    CrawlConfig,
    CrawlState,
    Page,
    Query,
    allowed_hosts,
    api_url,
    cursor_tags,
    listing_reason,
    normalise_post,
    parse_page,
    post_id,
    utc_now,
)
from spiders.items import FetchItem, PageItem

logger = logging.getLogger("linecolor.crawl")


class SafebooruSpider(scrapy.Spider):
    """Configured by the crawler's settings alone (``spiders.settings.crawl_settings``), like every component."""

    name = "safebooru"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SafebooruSpider:
        s = crawler.settings
        spider = cls(s["LINECOLOR_CRAWL"], s["LINECOLOR_BASE_URL"], s["LINECOLOR_STATE"], *args, **kwargs)
        spider._set_crawler(crawler)
        return spider

    def __init__(self, config: CrawlConfig, base_url: str, state: CrawlState, **kwargs: Any):
        super().__init__(**kwargs)
        self.cfg = config
        self.base = base_url
        self.hosts = allowed_hosts(base_url)
        self.allowed_domains = sorted(self.hosts)
        self.state = state
        self.seen: set[int] = set(self.state.posts)
        self.accepted = {q.key: self.state.query_run(q.key).accepted for q in config.queries}
        self.total_accepted = self.state.accepted_this_run()
        self.complete = False  # every query done: the run may end
        self.incomplete: list[str] = []  # queries given up on in this run (the run stays open)
        self.error: str | None = None  # fatal: the source cannot be reached
        self.api_ok = False

    # ------------------------------------------------------------------ flow

    async def start(self) -> AsyncIterator[Any]:
        todo = self.state.to_fetch()
        if todo:
            logger.info("resuming: %d listed posts still to fetch", len(todo))
            yield FetchItem(todo)
        request = self._next_query(0)
        if request is not None:
            yield request

    def _quota_left(self, q: Query) -> float:
        left = float("inf")
        if q.max_posts is not None:
            left = q.max_posts - self.accepted[q.key]
        if self.cfg.limit is not None:
            left = min(left, self.cfg.limit - self.total_accepted)
        return left

    def _next_query(self, i: int) -> scrapy.Request | None:
        """The first request of the first query from index ``i`` that still has work; None when all done."""
        for j in range(i, len(self.cfg.queries)):
            q = self.cfg.queries[j]
            qr = self.state.query_run(q.key)
            if qr.done or self._quota_left(q) <= 0:
                continue
            return self._page_request(j, qr.cursor, qr.top, as_json=True)
        if not self.incomplete:
            self.complete = True
            self.state.all_done = True  # the journal pipeline ends the run when the spider closes
        return None

    def _page_request(self, qi: int, cursor: int | None, top: int | None, as_json: bool,
                      attempt: int = 0) -> scrapy.Request:
        q = self.cfg.queries[qi]
        url = api_url(self.base, cursor_tags(q.tags, cursor), self.cfg.page_size, as_json)
        self.crawler.stats.inc_value("crawl/api_requests")
        return scrapy.Request(url, callback=self.parse_page, errback=self.page_failed, dont_filter=True,
                              priority=100, meta={"qi": qi, "cursor": cursor, "top": top, "json": as_json,
                                                  "attempt": attempt, "handle_httpstatus_all": True})

    def parse_page(self, response: Response) -> Any:
        m = response.meta
        qi, cursor, top, as_json, attempt = m["qi"], m["cursor"], m["top"], m["json"], m["attempt"]
        self.api_ok = True
        page = parse_page(response.body) if response.status == 200 else Page("error", reason=f"http_{response.status}")
        ids = [post_id(r) for r in page.posts]
        fresh = [r for r, i in zip(page.posts, ids, strict=True) if i is not None and (cursor is None or i < cursor)]
        if fresh:
            yield from self._take(qi, fresh, cursor, top)
            return
        if as_json:  # empty, broken or no progress: ask the XML API, which carries `count`
            yield self._page_request(qi, cursor, top, as_json=False)
            return
        if page.kind != "error" and (page.kind == "empty" or page.count == 0):
            yield from self._finish_query(qi, cursor, top)  # the end of the query's results
            return
        why = page.reason or f"empty page although count={page.count}"
        if attempt < self.cfg.retry.empty_page_retries:
            self.crawler.stats.inc_value("crawl/page_retries")
            yield self._page_request(qi, cursor, top, as_json=False, attempt=attempt + 1)
            return
        yield from self._give_up(qi, why)

    def _take(self, qi: int, raws: list[dict[str, Any]], cursor: int | None, top: int | None) -> Any:
        q = self.cfg.queries[qi]
        newest = self.state.newest.get(q.key, 0)
        recs = sorted((r for r in (normalise_post(x, self.base) for x in raws) if r is not None),
                      key=lambda r: -r["id"])
        top = recs[0]["id"] if top is None else top
        posts, done = [], False
        now = utc_now()
        for rec in recs:
            if rec["id"] <= newest:  # covered by an earlier run: the incremental crawl stops here
                done = True
                break
            if self._quota_left(q) <= 0:
                break
            if rec["id"] in self.seen:
                continue
            self.seen.add(rec["id"])
            rec.update(query=q.key, reason=listing_reason(rec, self.cfg, self.hosts), listed_at=now)
            posts.append(rec)
            if not rec["reason"]:
                self.accepted[q.key] += 1
                self.total_accepted += 1
        done = done or self._quota_left(q) <= 0
        cursor = recs[-1]["id"]
        yield PageItem(q.key, posts, top, cursor, done)
        if done:
            request = self._next_query(qi + 1)
        else:
            request = self._page_request(qi, cursor, top, as_json=True)
        if request is not None:
            yield request

    def _finish_query(self, qi: int, cursor: int | None, top: int | None) -> Any:
        yield PageItem(self.cfg.queries[qi].key, [], top, cursor, True)
        request = self._next_query(qi + 1)
        if request is not None:
            yield request

    def _give_up(self, qi: int, why: str) -> Any:
        key = self.cfg.queries[qi].key
        logger.warning("query %r: giving up for this run (%s); run the crawl again to resume it", key, why)
        self.crawler.stats.inc_value("crawl/queries_incomplete")
        self.incomplete.append(key)
        request = self._next_query(qi + 1)
        if request is not None:
            yield request

    def page_failed(self, failure: Failure) -> Any:
        request = failure.request
        m = request.meta
        why = failure.getErrorMessage() or type(failure.value).__name__
        if not self.api_ok:  # the very first API request failed after its retries
            if failure.check(IgnoreRequest):
                self.error = f"{self.base}: the API is forbidden to us ({why})"
            else:
                self.error = f"cannot reach {self.base}: {why}"
            raise CloseSpider("source_unreachable")
        if m.get("json"):
            yield self._page_request(m["qi"], m["cursor"], m["top"], as_json=False)
            return
        yield from self._give_up(m["qi"], why)

