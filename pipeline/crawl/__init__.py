"""Crawling a Gelbooru 0.2 site: settings (``config``), the API's wire format (``api``), resume state (``journal``).

Everything here is free of Scrapy: the spider project (``spiders/``) wires it to the downloader, and the
tests check each quirk of ``shared/reference/safebooru-api.md`` against these functions directly.
"""

from pipeline.crawl.api import (
    IMAGE_EXTS,
    Page,
    allowed_hosts,
    api_url,
    clean_file_url,
    cursor_tags,
    host_of,
    listing_reason,
    normalise_base,
    normalise_post,
    parse_page,
    parse_retry_after,
    post_id,
)
from pipeline.crawl.config import API_MAX_LIMIT, SAMPLE_SOURCE, CrawlConfig, Query, Retry, SampleBooruConfig
from pipeline.crawl.journal import CrawlState, QueryRun, build_manifest, journal_path, read_journal, utc_now

__all__ = [
    "API_MAX_LIMIT", "IMAGE_EXTS", "SAMPLE_SOURCE", "CrawlConfig", "CrawlState", "Page", "Query", "QueryRun",
    "Retry", "SampleBooruConfig", "allowed_hosts", "api_url", "build_manifest", "clean_file_url",
    "cursor_tags", "host_of", "journal_path", "listing_reason", "normalise_base", "normalise_post", "parse_page",
    "parse_retry_after", "post_id", "read_journal", "utc_now",
]
