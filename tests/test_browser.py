"""The reports in a real browser (Debian's Chromium through Playwright): from disk, and through the review server."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from pipeline.dedup import DedupConfig, dedup, hash_posts
from pipeline.dedup.labels import pair_verdicts, read_pair_labels
from pipeline.labels import read_labels
from pipeline.manifest import RAW_POSTS, read_manifest
from pipeline.review.browser import launch
from pipeline.review.server import ReviewPaths, ReviewServer
from tests.conftest import repo_params
from tests.reviewing import ATTR_TAG, SCRIPT_TAG


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture()
def tab(browser):
    """A page that records every dialog, console error and request it makes."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.seen = {"dialogs": [], "errors": [], "requests": []}
    page.on("dialog", lambda d: (page.seen["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: m.type == "error" and page.seen["errors"].append(m.text))
    page.on("pageerror", lambda e: page.seen["errors"].append(str(e)))
    page.on("request", lambda r: page.seen["requests"].append(r.url))
    yield page
    page.close()


def first_small_page(tree):
    return next((tree.reports / "filter").glob("reject-*-small-001.html"))


def thumbnails_render(page) -> tuple[int, int]:
    """(images on the page, images decoded with a width): every thumbnail must have rendered."""
    page.wait_for_load_state("load")
    return page.evaluate("() => { const i = [...document.images]; "
                         "return [i.length, i.filter(x => x.complete && x.naturalWidth > 0).length]; }")


@pytest.mark.parametrize("which", ["filter index", "filter reject page", "dedup"])
def test_reports_load_from_disk_every_thumbnail_renders_and_nothing_runs(review_tree, tab, which):
    path = {"filter index": review_tree.filter_html, "filter reject page": first_small_page(review_tree),
            "dedup": review_tree.dedup_html}[which]
    tab.goto(path.as_uri())
    n, rendered = thumbnails_render(tab)
    assert n >= 6 and rendered == n
    assert tab.seen["dialogs"] == [] and tab.seen["errors"] == []  # no alert, no CSP refusal of our own style
    assert all(u.startswith(("file:", "data:")) for u in tab.seen["requests"])  # nothing from the network
    assert tab.evaluate("() => document.scripts.length") == 0
    assert not tab.locator("button.verdict").first.is_visible()  # verdicts need the review server


def test_hostile_tags_show_as_text(review_tree, tab):
    tab.goto(first_small_page(review_tree).as_uri())
    for pid, tag in zip(review_tree.hostile, (SCRIPT_TAG, ATTR_TAG), strict=True):
        fig = tab.locator(f"figure[data-post-id='{pid}']")
        assert tag in fig.locator(".tags").inner_text()
        assert fig.locator("img").count() == 1  # the tag made no element of its own
    assert tab.locator("img[src=x]").count() == 0 and tab.seen["dialogs"] == []


@pytest.fixture()
def served(review_tree, tmp_path):
    paths = ReviewPaths(review_tree.reports, review_tree.raw / "images", tmp_path / "labels.csv",
                        tmp_path / "dedup_labels.csv")
    with ReviewServer(paths).start(0) as srv:
        yield srv, paths


def test_a_filter_click_is_a_line_in_labels_csv_and_the_page_says_so(review_tree, tab, served):
    srv, paths = served
    page_file = first_small_page(review_tree)
    tab.goto(f"{srv.url}/reports/filter/{page_file.name}")
    pid = review_tree.hostile[1]
    fig = tab.locator(f"figure[data-post-id='{pid}']")
    fig.get_by_role("button", name="wrong: not small").click()
    fig.locator(".said").filter(has_text="recorded").wait_for(timeout=10_000)
    assert fig.locator(".said").inner_text() == f"recorded: not small (post {pid})"
    labels, bad = read_labels(paths.labels)
    md5 = review_tree.decisions.set_index("id").loc[pid, "md5"]
    assert not bad and [(lab.post_id, lab.md5, lab.target, lab.value) for lab in labels] == [(pid, md5, "small", 0)]
    assert thumbnails_render(tab)[0] == thumbnails_render(tab)[1] and tab.seen["dialogs"] == []
    assert tab.seen["errors"] == []


def test_a_dedup_click_is_a_pair_verdict_the_next_dedup_run_honours(review_tree, tab, served):
    srv, paths = served
    tab.goto(f"{srv.url}/reports/dedup/index.html")
    box = tab.locator("figure[data-review='pair']").first
    a, b = box.get_attribute("data-md5-a"), box.get_attribute("data-md5-b")
    box.get_by_role("button", name="not the same picture").click()
    box.locator(".said").filter(has_text="recorded").wait_for(timeout=10_000)
    assert box.locator(".said").inner_text() == "recorded: not the same picture"
    verdicts = pair_verdicts(read_pair_labels(paths.dedup_labels)[0])
    assert verdicts == {(min(a, b), max(a, b)): "different"}
    cfg = repo_params("dedup", DedupConfig)
    posts = read_manifest(RAW_POSTS.path(review_tree.raw), RAW_POSTS)
    hashes = hash_posts(posts, review_tree.raw, review_tree.root / "shards", cfg.hashing,
                        shard_size=cfg.shard_size, workers=1, progress=False)  # saved shards: no decoding
    before = dedup(posts, hashes, cfg.search)[0].set_index("md5")["cluster"]
    after = dedup(posts, hashes, cfg.search, verdicts)[0].set_index("md5")["cluster"]
    assert before[a] == before[b] and after[a] != after[b]
