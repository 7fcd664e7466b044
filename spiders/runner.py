"""Run one crawl in-process (CrawlerProcess) and summarise it; start the sample booru when asked to."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess

from pipeline.crawl import (
    SAMPLE_SOURCE,
    CrawlConfig,
    CrawlState,
    SampleBooruConfig,
    journal_path,
    normalise_base,
)
from pipeline.manifest import RAW_POSTS, read_manifest
from pipeline.store import clean_temp_files
from spiders.extensions import progress_line
from spiders.settings import crawl_settings
from spiders.spiders.safebooru import SafebooruSpider


@contextmanager
def source_url(cfg: CrawlConfig, sample: SampleBooruConfig) -> Iterator[str]:
    """The base URL to crawl: the configured site, or a sample booru started for the crawl's duration."""
    if cfg.source != SAMPLE_SOURCE:
        yield normalise_base(cfg.source)
        return
    from pipeline.samplebooru.corpus import Corpus
    from pipeline.samplebooru.server import SampleBooru

    with SampleBooru(Corpus(sample.posts, seed=sample.seed), faults="none", seed=sample.seed) as booru:
        yield booru.url


def run_crawl(cfg: CrawlConfig, base_url: str, raw_dir: Path | str, is_sample: bool,
              progress_interval: float) -> dict[str, Any]:
    """Crawl ``base_url`` into ``raw_dir`` (resuming/extending what is there); return the summary."""
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    clean_temp_files(raw_dir)  # half-written files of a killed run
    state = CrawlState.open(journal_path(raw_dir))
    process = CrawlerProcess(crawl_settings(cfg, base_url, str(raw_dir), state, is_sample, progress_interval))
    crawler = process.create_crawler(SafebooruSpider)
    t0 = time.monotonic()
    process.crawl(crawler)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_no_tracebacks)
    process.start()
    elapsed = time.monotonic() - t0
    spider: SafebooruSpider = crawler.spider
    stats = crawler.stats.get_stats()
    summary = summarise(RAW_POSTS.path(raw_dir), stats, elapsed)
    summary.update(run=state.run, resumed=state.resumed, complete=spider.complete,
                   incomplete_queries=spider.incomplete, error=spider.error, source=base_url,
                   progress=progress_line(stats, elapsed))
    return summary


def _no_tracebacks(record: logging.LogRecord) -> bool:
    """Scrapy's download errors as one line each: what failed is in the message, not in a traceback."""
    if record.name.startswith("scrapy") and record.exc_info:
        record.exc_info, record.exc_text = None, None
    return True


def summarise(manifest: Path, stats: dict[str, Any], elapsed: float) -> dict[str, Any]:
    out: dict[str, Any] = {"posts": 0, "ok": 0, "failed": 0, "rejected": 0, "reasons": {}}
    if manifest.exists():
        df = read_manifest(manifest, RAW_POSTS)
        counts = Counter(df["status"])
        out.update(posts=len(df), ok=counts["ok"], failed=counts["failed"], rejected=counts["rejected"],
                   bytes_stored=int(df["file_size"].fillna(0).sum()),
                   reasons=dict(Counter(df.loc[df["status"] != "ok", "reason"])))
    fetched = stats.get("crawl/files_fetched", 0)
    requests = stats.get("downloader/request_count", 0)
    out["this_run"] = {
        "posts_listed": stats.get("crawl/posts_listed", 0), "files_fetched": fetched,
        "bytes_fetched": stats.get("crawl/bytes", 0), "files_already_stored": stats.get("crawl/files_existing", 0),
        "files_failed": stats.get("crawl/files_failed", 0), "files_rejected": stats.get("crawl/files_rejected", 0),
        "requests": requests, "api_requests": stats.get("crawl/api_requests", 0),
        "retry_after_waits": stats.get("crawl/retry_after_waits", 0), "md5_retries": stats.get("crawl/md5_retries", 0),
        "elapsed_s": round(elapsed, 3), "files_per_s": round(fetched / max(elapsed, 1e-9), 3),
        "requests_per_s": round(requests / max(elapsed, 1e-9), 3),
    }
    return out
