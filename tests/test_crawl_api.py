"""The spider's pure logic against the API facts sheet: parsing, quirks, URLs, rejections."""

from __future__ import annotations

import pytest

from pipeline.crawl import (
    CrawlConfig,
    Query,
    api_url,
    cursor_tags,
    listing_reason,
    normalise_post,
    parse_page,
    parse_retry_after,
)
from tests.conftest import repo_params

BASE = "https://safebooru.org"
MD5 = "563c6fbe5761ac4ba720ae0da9a15b8a"


def test_empty_body_means_no_results_and_errors_are_told_apart():
    assert parse_page(b"").kind == "empty"
    assert parse_page(b"  \n").kind == "empty"
    cap = (b'<?xml version="1.0" encoding="UTF-8"?><response success="false" '
           b'reason="Search error: API limited due to abuse."/>')
    page = parse_page(cap)
    assert page.kind == "error" and "API limited" in page.reason
    assert parse_page(b"<!DOCTYPE html><html><body>db error</body></html>").kind == "error"
    assert parse_page(b'[{"id": 1').kind == "error"
    assert parse_page(b"[]").posts == []


def test_xml_count_and_string_values():
    body = (b'<?xml version="1.0" encoding="UTF-8"?><posts count="7" offset="0">'
            b'<post id="5" md5="' + MD5.encode() + b'" file_url="https://safebooru.org//images/3/a.png?5" '
            b'rating="s" tags=" a b " parent_id="" score="" width="10" height="20" change="99"/></posts>')
    page = parse_page(body)
    assert page.kind == "posts" and page.count == 7 and len(page.posts) == 1
    rec = normalise_post(page.posts[0], BASE)
    assert rec["file_url"] == "https://safebooru.org/images/3/a.png"  # `//` and `?id` cleaned
    assert (rec["rating"], rec["tags"], rec["parent_id"], rec["score"], rec["ext"]) == ("general", "a b", 0, None, "png")
    assert parse_page(b'<?xml version="1.0"?><posts count="0" offset="0"/>').count == 0


def test_legacy_json_record_builds_its_url_from_directory_and_image():
    raw = {"id": 3, "hash": MD5.upper(), "directory": "12", "image": f"{MD5}.jpg", "rating": "safe",
           "score": None, "width": 800, "height": 600, "tags": "x  y", "parent_id": 0}
    rec = normalise_post(raw, BASE)
    assert rec["file_url"] == f"{BASE}/images/12/{MD5}.jpg"
    assert rec["md5"] == MD5 and rec["rating"] == "general" and rec["score"] is None


def test_rejections_foreign_host_bad_md5_and_filters():
    cfg = repo_params("crawl", CrawlConfig, min_width=500, ratings=["general"])
    hosts = frozenset({"safebooru.org"})
    good = normalise_post({"id": 1, "hash": MD5, "file_url": f"{BASE}/images/1/x.jpg", "rating": "general",
                           "width": 800, "height": 800}, BASE)
    assert listing_reason(good, cfg, hosts) == ""
    assert listing_reason({**good, "file_url": "https://evil.example/images/1/x.jpg"}, cfg, hosts) == "foreign_host"
    assert listing_reason({**good, "file_url": "file:///etc/passwd"}, cfg, hosts) == "foreign_host"
    assert listing_reason({**good, "md5": "../../etc/passwd"}, cfg, hosts) == "bad_md5_field"
    assert listing_reason({**good, "ext": "php"}, cfg, hosts) == "unsupported_ext"
    assert listing_reason({**good, "rating": "explicit"}, cfg, hosts) == "rating"
    assert listing_reason({**good, "width": 100}, cfg, hosts) == "too_small"


def test_cursor_paging_and_config():
    assert cursor_tags(" 1girl  solo ", None) == "1girl solo"
    assert cursor_tags("1girl", 500) == "1girl id:<500"
    url = api_url(BASE, "1girl id:<500", 100, True)
    assert "pid=0" in url and "tags=1girl+id%3A%3C500" in url and "json=1" in url
    cfg = repo_params("crawl", CrawlConfig, queries=[{"tags": "a  b", "max_posts": 5}, {"tags": "c", "max_posts": None}],
                      ratings=["safe"])
    assert cfg.queries == (Query("a  b", 5), Query("c", None)) and cfg.queries[0].key == "a b"
    assert cfg.ratings == ("general",)
    with pytest.raises(ValueError, match="page_size"):
        repo_params("crawl", CrawlConfig, page_size=5000)
    with pytest.raises(ValueError, match="queries"):
        repo_params("crawl", CrawlConfig, queries=[])


def test_retry_after_forms():
    assert parse_retry_after(b"3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
