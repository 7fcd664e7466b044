"""Scrapy settings of the linecolor project; ``crawl_settings`` adds what comes from params.yaml."""

from __future__ import annotations

from typing import Any

from pipeline.crawl import CrawlConfig, CrawlState

BOT_NAME = "linecolor"
SPIDER_MODULES = ["spiders.spiders"]
NEWSPIDER_MODULE = "spiders.spiders"

ROBOTSTXT_OBEY = True
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOGSTATS_INTERVAL = 0  # spiders.extensions.Progress reports instead
DOWNLOAD_DELAY_JITTER = 0  # a random delay could go below 1/rate
# 429 and 503 are PoliteMiddleware's (Retry-After); the rest are RetryMiddleware's.
RETRY_HTTP_CODES = [500, 502, 504, 522, 524, 408]
HTTPCACHE_ENABLED = False
DOWNLOADER_MIDDLEWARES = {"spiders.middlewares.PoliteMiddleware": 560}  # before RetryMiddleware (550)
ITEM_PIPELINES = {"spiders.pipelines.JournalPipeline": 100, "spiders.pipelines.StorePipeline": 200}
EXTENSIONS = {"spiders.extensions.Progress": 500}
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "WARNING"


def crawl_settings(cfg: CrawlConfig, base_url: str, raw_dir: str, state: CrawlState, is_sample: bool,
                   progress_interval: float) -> dict[str, Any]:
    """The settings of one crawl: this module's plus the configured rate, concurrency and retries.

    The one way configuration reaches the spider, middlewares and pipelines: ``LINECOLOR_CRAWL`` (the
    config), ``LINECOLOR_BASE_URL``, ``LINECOLOR_RAW_DIR`` and ``LINECOLOR_STATE`` (the open journal).
    """
    base = {k: v for k, v in globals().items() if k.isupper()}
    rate = cfg.request_rate(is_sample)
    return base | {
        "USER_AGENT": cfg.user_agent,
        "DOWNLOAD_DELAY": 1.0 / rate if rate > 0 else 0.0,  # per host: at most `rate` requests/s
        "CONCURRENT_REQUESTS": cfg.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": cfg.concurrency,
        "DOWNLOAD_TIMEOUT": cfg.timeout,
        "DOWNLOAD_MAXSIZE": max(cfg.max_file_bytes, 64 * 2**20),  # API pages; files get their own limit
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_TIMES": cfg.retry.times,
        "LINECOLOR_CRAWL": cfg,
        "LINECOLOR_BASE_URL": base_url,
        "LINECOLOR_RAW_DIR": raw_dir,
        "LINECOLOR_STATE": state,
        "PROGRESS_INTERVAL": progress_interval,
    }
