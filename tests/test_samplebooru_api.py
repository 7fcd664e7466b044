"""The sample booru against the Safebooru facts sheet (shared/reference/safebooru-api.md), over real HTTP."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from pipeline.samplebooru.corpus import Corpus, Post
from pipeline.samplebooru.faults import MAX_FAULTY_ATTEMPTS, PROFILES
from pipeline.samplebooru.server import ABUSE_XML, SampleBooru

API = "/index.php?page=dapi&s=post&q=index"
JSON_KEYS = {"directory", "hash", "width", "height", "id", "image", "change", "owner", "parent_id", "rating",
             "sample", "sample_height", "sample_width", "score", "tags", "source", "status", "has_notes",
             "comment_count"}
URL_KEYS = {"preview_url", "sample_url", "file_url"}
XML_KEYS = {"height", "score", "file_url", "parent_id", "sample_url", "sample_width", "sample_height",
            "preview_url", "rating", "tags", "id", "width", "change", "md5", "creator_id", "has_children",
            "created_at", "status", "source", "has_notes", "has_comments", "preview_width", "preview_height"}


@pytest.fixture(scope="module")
def booru(corpus: Corpus):
    with SampleBooru(corpus) as b:
        yield b


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s


def posts_json(http: requests.Session, booru: SampleBooru, **params) -> list[dict]:
    r = http.get(booru.url + API, params={"json": 1, **params}, timeout=10)
    assert r.status_code == 200
    return r.json() if r.content else []


def posts_xml(http: requests.Session, booru: SampleBooru, **params) -> ET.Element:
    r = http.get(booru.url + API, params=params, timeout=10)
    assert r.status_code == 200
    return ET.fromstring(r.content)


def ids(records: list[dict]) -> list[int]:
    return [int(r["id"]) for r in records]


def desc_ids(posts: list[Post]) -> list[int]:
    return sorted((p.id for p in posts), reverse=True)


def file_url(booru: SampleBooru, p: Post) -> str:
    return f"{booru.url}/images/{p.directory}/{p.image}"


# ---------------------------------------------------------------------------------------------- records


def test_json_records_have_the_real_fields_and_types(http, booru, corpus):
    records = posts_json(http, booru, limit=1000)
    assert ids(records) == desc_ids(corpus.posts)
    by_id = {p.id: p for p in corpus.posts}
    dir_types, url_quirks = Counter(), Counter()
    for rec in records:
        p = by_id[rec["id"]]
        assert set(rec) == (JSON_KEYS if p.legacy else JSON_KEYS | URL_KEYS)
        dir_types[type(rec["directory"]).__name__] += 1
        assert int(rec["directory"]) == p.directory
        assert rec["hash"] == p.md5 and rec["image"] == p.image
        assert (rec["width"], rec["height"], rec["change"]) == (p.width, p.height, p.change)
        assert rec["rating"] in ("general", "safe", "questionable", "explicit") and rec["rating"] == p.rating
        assert rec["score"] is None or isinstance(rec["score"], int)
        assert rec["score"] == p.score
        assert isinstance(rec["parent_id"], int) and rec["parent_id"] == p.parent_id
        assert rec["sample"] is p.sample
        assert (rec["sample_width"], rec["sample_height"]) == (p.sample_size if p.sample else (0, 0))
        assert rec["tags"] == " ".join(p.tags)
        assert isinstance(rec["has_notes"], bool) and isinstance(rec["comment_count"], int)
        if not p.legacy:
            assert rec["preview_url"].endswith(f"/thumbnails/{p.directory}/thumbnail_{p.stem}.jpg")
            assert rec["sample_url"].endswith(f"/samples/{p.directory}/sample_{p.stem}.jpg" if p.sample
                                              else rec["file_url"])
            url_quirks["//"] += "//images/" in rec["file_url"]
            url_quirks["?id"] += rec["file_url"].endswith(f"?{p.id}")
            assert re.search(rf"/images/{p.directory}/{re.escape(p.image)}(\?{p.id})?$", rec["file_url"])
    assert dir_types["int"] and dir_types["str"], dir_types
    assert url_quirks["//"] and url_quirks["?id"]
    assert any(r["score"] is None for r in records) and any(r["parent_id"] == 0 for r in records)
    assert any(p.legacy for p in corpus.posts) and not all(p.legacy for p in corpus.posts)
    assert any(not p.image.startswith(p.md5) for p in corpus.posts)


def test_xml_records_are_strings_with_site_formats(http, booru, corpus):
    root = posts_xml(http, booru, limit=1000)
    assert root.tag == "posts" and root.attrib == {"count": str(len(corpus)), "offset": "0"}
    by_id = {p.id: p for p in corpus.posts}
    assert [int(e.get("id")) for e in root] == desc_ids(corpus.posts)
    for e in root:
        p = by_id[int(e.get("id"))]
        assert e.tag == "post" and set(e.attrib) == XML_KEYS
        assert e.get("md5") == p.md5
        assert e.get("parent_id") == (str(p.parent_id) if p.parent_id else "")
        assert e.get("score") == ("" if p.score is None else str(p.score))
        assert e.get("tags") == f" {' '.join(p.tags)} "
        assert e.get("rating") == {"general": "s", "safe": "s", "questionable": "q", "explicit": "e"}[p.rating]
        created = dt.datetime.strptime(e.get("created_at"), "%a %b %d %H:%M:%S %z %Y")
        assert int(created.timestamp()) == p.created_at
        assert e.get("has_children") in ("true", "false") and e.get("has_notes") in ("true", "false")
        assert (int(e.get("preview_width")), int(e.get("preview_height"))) == p.preview_size
        assert e.get("file_url").split("?")[0].endswith(f"/images/{p.directory}/{p.image}")
    assert {e.get("rating") for e in root} <= {"s", "q", "e"}
    assert any(e.get("has_children") == "true" for e in root)


# ---------------------------------------------------------------------------------------------- paging


def test_pid_pages_offset_and_count(http, booru, corpus):
    seen = []
    for pid in range(9):
        root = posts_xml(http, booru, limit=50, pid=pid)
        assert root.attrib == {"count": str(len(corpus)), "offset": str(pid * 50)}
        seen += [int(e.get("id")) for e in root]
    assert seen == desc_ids(corpus.posts)
    r = http.get(booru.url + API, params={"limit": 50, "pid": 8})
    assert r.text.endswith(f'<posts count="{len(corpus)}" offset="400"/>')
    assert len(posts_json(http, booru)) == 100  # default limit


def test_limit_is_clamped_to_1000(http, booru, corpus):
    root = posts_xml(http, booru, limit=5000, pid=0)
    assert len(root) == len(corpus)
    assert posts_xml(http, booru, limit=5000, pid=1).get("offset") == "1000"


def test_depth_cap_answers_abuse_xml_even_for_json(http, corpus):
    with SampleBooru(corpus, depth_cap=1000) as small:
        assert len(posts_json(http, small, limit=100, pid=3)) == 100
        assert posts_json(http, small, limit=100, pid=10) == []  # 1000 is not beyond the cap
        for params in ({"limit": 100, "pid": 11, "json": 1}, {"limit": 100, "pid": 11}, {"pid": 1001, "limit": 1}):
            r = http.get(small.url + API, params=params)
            assert r.status_code == 200 and r.text == ABUSE_XML
            assert ET.fromstring(r.content).attrib == {"success": "false",
                                                      "reason": "Search error: API limited due to abuse."}


def test_id_cursor_walks_the_whole_result_set(http, booru, corpus):
    walked, cursor = [], None
    while True:
        page = posts_json(http, booru, limit=37, pid=0, tags="" if cursor is None else f"id:<{cursor}")
        if not page:
            break
        walked += ids(page)
        cursor = page[-1]["id"]
    assert walked == desc_ids(corpus.posts)
    walked, cursor = [], 0
    while page := posts_json(http, booru, limit=64, tags=f"sort:id:asc id:>{cursor}"):
        walked += ids(page)
        cursor = page[-1]["id"]
    assert walked == sorted(p.id for p in corpus.posts)


# ---------------------------------------------------------------------------------------------- search


def _expect(corpus: Corpus, pred) -> list[int]:
    return desc_ids([p for p in corpus.posts if pred(p)])


def test_tag_search_syntax(http, booru, corpus):
    def search(tags: str) -> list[int]:
        return ids(posts_json(http, booru, limit=1000, tags=tags))

    cases = {
        "1girl": lambda p: "1girl" in p.tags,
        "1girl -solo": lambda p: "1girl" in p.tags and "solo" not in p.tags,
        "blue_*": lambda p: any(t.startswith("blue_") for t in p.tags),
        "*_hair -short_hair": lambda p: any(t.endswith("_hair") for t in p.tags) and "short_hair" not in p.tags,
        "~aoi_sakuraba ~hina_kurokawa": lambda p: bool({"aoi_sakuraba", "hina_kurokawa"} & set(p.tags)),
        "aoi_sakuraba ~ hina_kurokawa solo": lambda p: bool({"aoi_sakuraba", "hina_kurokawa"} & set(p.tags))
        and "solo" in p.tags,
        "rating:general": lambda p: p.rating in ("general", "safe"),
        "rating:safe": lambda p: p.rating in ("general", "safe"),
        "rating:questionable": lambda p: p.rating == "questionable",
        "-rating:general": lambda p: p.rating in ("questionable", "explicit"),
        "width:>1000 height:<=900": lambda p: p.width > 1000 and p.height <= 900,
        "width:>=1200": lambda p: p.width >= 1200,
        "id:<2000": lambda p: p.id < 2000,
        "id:>=2000 id:<=2100": lambda p: 2000 <= p.id <= 2100,
        "score:>100": lambda p: (p.score or 0) > 100,
        f"id:{corpus.posts[5].id}": lambda p: p.id == corpus.posts[5].id,
        f"md5:{corpus.posts[7].md5}": lambda p: p.md5 == corpus.posts[7].md5,
        "nonexistent_tag": lambda p: False,
    }
    parented = next(p for p in corpus.posts if p.parent_id)
    cases[f"parent:{parented.parent_id}"] = lambda p: p.parent_id == parented.parent_id
    for tags, pred in cases.items():
        want = _expect(corpus, pred)
        assert search(tags) == want, tags
        assert want or tags == "nonexistent_tag", f"vacuous case {tags}"
    assert search("rating:explicit") == _expect(corpus, lambda p: p.rating == "explicit")
    assert search("sort:id:asc") == sorted(p.id for p in corpus.posts)
    assert search("sort:random 1girl") == search("1girl")
    by_score = posts_json(http, booru, limit=1000, tags="sort:score")
    scores = [r["score"] or 0 for r in by_score]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 10
    scores = [r["score"] or 0 for r in posts_json(http, booru, limit=1000, tags="sort:score:asc")]
    assert scores == sorted(scores)
    one = posts_json(http, booru, id=corpus.posts[3].id)
    assert ids(one) == [corpus.posts[3].id]


def test_no_results_is_an_empty_body(http, booru):
    r = http.get(booru.url + API, params={"json": 1, "tags": "nonexistent_tag"})
    assert r.status_code == 200 and r.content == b""
    r = http.get(booru.url + API, params={"tags": "nonexistent_tag", "pid": 2, "limit": 10})
    assert r.status_code == 200 and r.text.endswith('<posts count="0" offset="20"/>')


# ---------------------------------------------------------------------------------------------- files


def test_every_image_url_serves_the_exact_file(http, booru, corpus):
    records = posts_json(http, booru, limit=1000)
    for rec in records:
        url = rec.get("file_url") or f"{booru.url}/images/{rec['directory']}/{rec['image']}"
        r = http.get(url)
        assert r.status_code == 200 and hashlib.md5(r.content).hexdigest() == rec["hash"], url
        assert r.headers["Content-Type"].startswith("image/")
    p = corpus.posts[0]
    for url in (f"{booru.url}//images/{p.directory}/{p.image}?{p.id}", f"{booru.url}/images//{p.directory}/{p.image}"):
        assert hashlib.md5(http.get(url).content).hexdigest() == p.md5


def test_samples_and_thumbnails(http, booru, corpus):
    good = [p for p in corpus.posts if corpus.truth(p.id).broken is None]
    with_sample = [p for p in good if p.sample][:4]
    without = [p for p in good if not p.sample][:3]
    assert with_sample and without
    for p in with_sample + without:
        r = http.get(f"{booru.url}/thumbnails/{p.directory}/thumbnail_{p.stem}.jpg")
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
        im = Image.open(io.BytesIO(r.content))
        assert im.format == "JPEG" and max(im.size) <= 150 and im.size == p.preview_size
        r = http.get(f"{booru.url}//samples/{p.directory}/sample_{p.stem}.jpg?{p.id}")
        if p.sample:
            im = Image.open(io.BytesIO(r.content))
            assert r.status_code == 200 and im.format == "JPEG" and im.size == p.sample_size and im.width == 850
        else:
            assert r.status_code == 404 and b"404 Not Found" in r.content
    # cached: the same bytes again
    p = with_sample[0]
    url = f"{booru.url}/samples/{p.directory}/sample_{p.stem}.jpg"
    assert http.get(url).content == http.get(url).content
    for bad in ("/images/1/nope.jpg", f"/images/{p.directory + 1}/{p.image}", "/samples/1/sample_x.jpg",
                "/thumbnails/1/x.jpg", "/index.php?page=post&s=list", "/admin/", "/nothing"):
        r = http.get(booru.url + bad)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html"), bad


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_broken_files_have_no_sample_or_thumbnail(http, tmp_path):
    small = Corpus(12, seed=0, cache_dir=tmp_path)
    posts = [p for p in small.posts if p.sample][:4]
    assert len(posts) == 4
    one_px = io.BytesIO()
    Image.new("RGB", (1, 1)).save(one_px, format="PNG")
    broken = {
        posts[0].id: small.file_bytes(posts[0].id)[: posts[0].file_size // 2],  # truncated
        posts[1].id: b"<html><body>not an image</body></html>",
        posts[2].id: one_px.getvalue(),
        posts[3].id: _png_header(100_000, 100_000),  # decompression bomb header
    }
    for pid, data in broken.items():
        small.file_path(pid).write_bytes(data)
    with SampleBooru(small) as b:
        for p in small.posts:
            thumb = http.get(f"{b.url}/thumbnails/{p.directory}/thumbnail_{p.stem}.jpg")
            assert thumb.status_code == (404 if p.id in broken else 200), p.id
            if p.sample:
                assert http.get(f"{b.url}/samples/{p.directory}/sample_{p.stem}.jpg").status_code == (
                    404 if p.id in broken else 200)
            image = http.get(f"{b.url}/images/{p.directory}/{p.image}")  # the file itself is served as is
            assert image.status_code == 200 and image.content == small.file_bytes(p.id)


# ---------------------------------------------------------------------------------------------- other endpoints


def test_tag_endpoint(http, booru, corpus):
    counts = Counter(t for p in corpus.posts for t in p.tags)
    r = http.get(booru.url + "/index.php", params={"page": "dapi", "s": "tag", "q": "index", "json": 1,
                                                   "name_pattern": "%_hair", "order": "count",
                                                   "direction": "desc", "limit": 5})
    assert r.status_code == 200 and r.text.startswith("<?xml")
    root = ET.fromstring(r.content)
    assert root.tag == "tags" and root.get("type") == "array" and len(root) == 5
    got = [(e.get("name"), int(e.get("count"))) for e in root]
    hair = sorted(((t, n) for t, n in counts.items() if t.endswith("_hair")), key=lambda x: -x[1])
    assert [n for _, n in got] == [n for _, n in hair[:5]]
    assert all(counts[name] == n and name.endswith("_hair") for name, n in got)
    for e in root:
        assert set(e.attrib) == {"type", "count", "name", "ambiguous", "id"} and e.get("type") == "0"
        assert e.get("ambiguous") == "false" and e.get("id").isdigit()
    root = ET.fromstring(http.get(booru.url + "/index.php?page=dapi&s=tag&q=index&name_pattern=aoi%").content)
    assert [(e.get("name"), e.get("type"), int(e.get("count"))) for e in root] == [
        ("aoi_sakuraba", "4", counts["aoi_sakuraba"])]


def test_robots_txt(http, booru, corpus):
    r = http.get(booru.url + "/robots.txt")
    assert r.status_code == 200 and "Disallow: /admin/" in r.text and "User-agent: *" in r.text
    with SampleBooru(corpus, robots_txt="User-agent: *\nDisallow: /\n") as b:
        assert http.get(b.url + "/robots.txt").text == "User-agent: *\nDisallow: /\n"


def test_request_log(http, corpus):
    with SampleBooru(corpus) as b:
        p = corpus.posts[1]
        urls = [API + "&json=1&limit=2", "/index.php?page=dapi&s=tag&q=index&limit=1",
                f"/images/{p.directory}/{p.image}?{p.id}", f"/thumbnails/{p.directory}/thumbnail_{p.stem}.jpg",
                "/robots.txt", "/nothing"]
        t0 = time.time()
        sizes = [len(http.get(b.url + u).content) for u in urls]
        log = b.requests
        assert [r.kind for r in log] == ["api", "tag", "image", "thumbnail", "robots", "other"]
        assert [r.status for r in log] == [200, 200, 200, 200, 200, 404]
        assert [r.nbytes for r in log] == sizes and all(r.method == "GET" and r.t >= t0 - 1 for r in log)
        assert log[2].path == f"/images/{p.directory}/{p.image}" and log[2].query == str(p.id)
        assert log[0].query == "page=dapi&s=post&q=index&json=1&limit=2"
        b.reset_log()
        assert b.requests == []


# ---------------------------------------------------------------------------------------------- faults


def fetch(http: requests.Session, url: str) -> tuple[int, bytes | None]:
    """(status, body), body None when the connection broke before Content-Length bytes arrived."""
    try:
        r = http.get(url, timeout=10)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
        return -1, None
    return r.status_code, r.content


def trace(booru: SampleBooru, urls: list[str]) -> list[tuple[int, str]]:
    with requests.Session() as http:
        out = []
        for u in urls:
            status, body = fetch(http, booru.url + u)
            body = None if body is None else body.replace(booru.url.encode(), b"")  # ports differ
            out.append((status, "" if body is None else hashlib.md5(body).hexdigest()))
        return out


def image_urls(corpus: Corpus) -> list[str]:
    return [f"/images/{p.directory}/{p.image}" for p in corpus.posts]


def test_fault_profiles_are_listed(corpus):
    assert PROFILES == ("none", "errors", "ratelimit", "truncated", "html", "shortpages", "badmd5", "chaos")
    with pytest.raises(ValueError, match="unknown fault profile"):
        SampleBooru(corpus, faults="nope")


@pytest.mark.parametrize("profile", ["errors", "truncated", "html", "shortpages", "badmd5", "chaos"])
def test_faults_are_reproducible_from_the_seed(corpus, profile):
    urls = [API + f"&json=1&limit=20&pid={i % 20}" for i in range(40)] + image_urls(corpus)[:80] * 2
    rate = 1e6  # chaos includes the token bucket, which depends on the clock: keep it out of the way
    with SampleBooru(corpus, faults=profile, seed=3, rate=rate) as a:
        first = trace(a, urls)
    with SampleBooru(corpus, faults=profile, seed=3, rate=rate) as b:
        assert trace(b, urls) == first
    with SampleBooru(corpus, faults=profile, seed=4, rate=rate) as c:
        assert trace(c, urls) != first
    with SampleBooru(corpus, faults="none") as clean:
        assert trace(clean, urls) != first  # the profile did something


def test_errors_profile_fails_some_requests_transiently(http, corpus):
    with SampleBooru(corpus, faults="errors", seed=1) as b:
        statuses = Counter()
        for p in corpus.posts:
            for _ in range(MAX_FAULTY_ATTEMPTS + 1):
                status, body = fetch(http, file_url(b, p))
                statuses[status] += 1
                if status == 200:
                    assert hashlib.md5(body).hexdigest() == p.md5
                    break
            else:
                pytest.fail(f"post {p.id} never succeeded")
        failures = sum(n for s, n in statuses.items() if s != 200)
        assert set(statuses) <= {200, 500, 502, 504} and len(statuses) == 4
        assert 0.05 < failures / len(corpus) < 0.17, statuses


def test_ratelimit_profile(http, corpus):
    with SampleBooru(corpus, faults="ratelimit", rate=5) as b:
        answers = [http.get(b.url + API + "&limit=1") for _ in range(30)]
        limited = [r for r in answers if r.status_code == 429]
        assert len(limited) >= 15 and all(r.headers["Retry-After"] == "1" for r in limited)
        time.sleep(1.0)
        assert http.get(b.url + API + "&limit=1&pid=1").status_code in (200, 503)
    with SampleBooru(corpus, faults="ratelimit", rate=1e6) as b:  # bucket never empty: only the 503s
        statuses = [http.get(file_url(b, p)) for p in corpus.posts]
        unavailable = [r for r in statuses if r.status_code == 503]
        assert 2 <= len(unavailable) <= 30 and all(r.headers["Retry-After"] == "1" for r in unavailable)
        assert {r.status_code for r in statuses} == {200, 503}


def test_truncated_profile(http, corpus):
    with SampleBooru(corpus, faults="truncated", seed=2) as b:
        broken = first_broken = 0
        for p in corpus.posts:
            for attempt in range(MAX_FAULTY_ATTEMPTS + 1):  # retries of the same URL
                status, body = fetch(http, file_url(b, p))
                if body is not None:
                    break
                broken += 1
                first_broken += attempt == 0
            assert status == 200 and hashlib.md5(body).hexdigest() == p.md5
        assert 0.05 < first_broken / len(corpus) < 0.17
        short = [r for r in b.requests if r.status == 200 and r.kind == "image"
                 and r.nbytes < corpus.post(_post_of(corpus, r.path)).file_size]
        assert len(short) == broken
        pages = [fetch(http, b.url + API + f"&json=1&limit=5&pid={i}")[1] for i in range(80)]
        assert 3 <= sum(page is None for page in pages) <= 20


def _post_of(corpus: Corpus, path: str) -> int:
    name = path.rsplit("/", 1)[1]
    return next(p.id for p in corpus.posts if p.image == name)


def test_html_profile(http, corpus):
    with SampleBooru(corpus, faults="html", seed=5) as b:
        kinds = Counter()
        for pid in range(100):
            r = http.get(b.url + API + f"&json=1&limit=4&pid={pid % 100}")
            assert r.status_code == 200
            if r.text.startswith("<!DOCTYPE html>") or r.text.startswith("<html"):
                kinds["html"] += 1
            elif r.text.startswith("<?xml") and 'success="false"' in r.text:
                kinds["xml"] += 1
            else:
                assert r.content == b"" or isinstance(r.json(), list)
                kinds["json"] += 1
        assert kinds["html"] and kinds["xml"] and 4 <= kinds["html"] + kinds["xml"] <= 25, kinds
        assert sum(kinds.values()) == 100
        served_html = sum(http.get(file_url(b, p)).headers["Content-Type"].startswith("text/html")
                          for p in corpus.posts)
        assert 1 <= served_html <= 30


def test_shortpages_profile(http, corpus):
    with SampleBooru(corpus, faults="shortpages", seed=6) as b:
        short_first = 0
        for pid in range(20):
            url = b.url + API + f"&limit=20&pid={pid}"
            attempts = []
            for _ in range(3):
                root = ET.fromstring(http.get(url).content)
                assert root.get("count") == str(len(corpus)) and root.get("offset") == str(pid * 20)
                attempts.append(len(root))
            assert attempts[2] == 20  # the third attempt of a key is never short
            short_first += attempts[0] < 20
        assert 2 <= short_first <= 14
        bodies = [http.get(b.url + API + f"&json=1&limit=10&pid={pid}").content for pid in range(40)]
        assert any(body == b"" for body in bodies)  # an empty JSON page looks like the end


def test_badmd5_profile(http, corpus):
    with SampleBooru(corpus, faults="badmd5", seed=7) as b:
        permanent = {p.id for p in corpus.posts if b.faults.permanently_bad(p.id)}
        assert 1 <= len(permanent) <= 20
        first_bad = 0
        for p in corpus.posts:
            bodies = [http.get(file_url(b, p)).content for _ in range(3)]
            assert all(len(body) == p.file_size for body in bodies)
            good = [hashlib.md5(body).hexdigest() == p.md5 for body in bodies]
            if p.id in permanent:
                assert good == [False, False, False]
            else:
                assert good[1:] == [True, True]
                first_bad += not good[0]
        assert 0.05 < first_bad / len(corpus) < 0.17


def test_chaos_profile_crawl_with_retries_gets_every_good_file(corpus):
    with SampleBooru(corpus, faults="chaos", seed=8, rate=1e6) as b, requests.Session() as http:
        got: dict[int, str] = {}
        failures = 0
        for p in corpus.posts:
            for _ in range(8):
                status, body = fetch(http, file_url(b, p))
                if status == 200 and body is not None and hashlib.md5(body).hexdigest() == p.md5:
                    got[p.id] = p.md5
                    break
                failures += 1
        missing = {p.id for p in corpus.posts} - set(got)
        assert missing == {p.id for p in corpus.posts if b.faults.permanently_bad(p.id)}
        assert failures > 10


# ---------------------------------------------------------------------------------------------- concurrency


def test_sixteen_parallel_clients(booru, corpus):
    local = threading.local()
    want_page = posts_json(requests.Session(), booru, limit=25, pid=2)

    def job(i: int) -> bool:
        s = getattr(local, "s", None) or requests.Session()
        local.s = s
        if i % 10 == 0:
            return posts_json(s, booru, limit=25, pid=2) == want_page
        p = corpus.posts[i % len(corpus)]
        r = s.get(file_url(booru, p), timeout=10)
        return r.status_code == 200 and hashlib.md5(r.content).hexdigest() == p.md5

    with ThreadPoolExecutor(16) as ex:
        t0 = time.time()
        results = list(ex.map(job, range(800)))
        elapsed = time.time() - t0
    assert all(results) and len(results) == 800
    assert elapsed < 20, f"{800 / elapsed:.0f} requests/s"


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_ready_line_log_and_sigterm(corpus, tmp_path: Path):
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.samplebooru", "--port", "0", "--posts", str(len(corpus)),
         "--seed", str(corpus.seed), "--cache-dir", str(corpus.folder.parent.parent), "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"serving (http://127\.0\.0\.1:(\d+))\n", line)
        assert m and int(m.group(2)) > 0, line
        url = m.group(1)
        p = corpus.posts[0]
        assert len(requests.get(url + API + "&json=1&limit=3").json()) == 3
        assert hashlib.md5(requests.get(f"{url}/images/{p.directory}/{p.image}").content).hexdigest() == p.md5
        assert requests.get(url + "/nothing").status_code == 404
        lines = [json.loads(x) for x in log.read_text().splitlines()]  # flushed while still serving
        assert [(x["kind"], x["status"]) for x in lines] == [("api", 200), ("image", 200), ("other", 404)]
        assert set(lines[0]) == {"t", "method", "path", "query", "status", "nbytes", "kind"}
        assert lines[1]["nbytes"] == p.file_size
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_latency_delays_every_answer_but_not_concurrent_ones(corpus):
    """Emulated round trips sleep in the handler: 8 parallel requests take about one latency, not eight."""
    latency = 0.3
    p = corpus.posts[0]
    with SampleBooru(corpus, latency=latency) as slow:
        url = f"{slow.url}/images/{p.directory}/{p.image}"
        t0 = time.perf_counter()
        assert requests.get(url, timeout=10).status_code == 200
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: requests.get(url, timeout=10).status_code, range(8)))
        eight = time.perf_counter() - t0
    assert codes == [200] * 8
    assert one >= latency
    assert eight < 4 * latency  # not 8 x latency: waiting costs no worker
