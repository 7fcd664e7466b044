"""reports/filter/: counts, histograms, every rejection in pages borderline first, kept pictures near the line."""

from __future__ import annotations

import math
import re

import pytest

from pipeline import report as html
from pipeline.labels import latest, make_label
from pipeline.review.filter_report import filter_report
from tests.reviewing import ATTR_TAG, PER_PAGE, SCRIPT_TAG, THRESHOLDS


@pytest.fixture(scope="module")
def tree(review_tree):
    return review_tree


def ids_on(page: str) -> list[int]:
    return [int(m) for m in re.findall(r'<figure data-review="label" data-post-id="(\d+)"', page)]


def test_every_rejection_is_on_one_page_of_its_reason_borderline_first(tree):
    d = tree.decisions
    rejected = d[d["decision"] == "reject"]
    folder = tree.reports / "filter"
    for reason, group in rejected.groupby("reason"):
        pages = sorted(folder.glob(f"reject-*-{reason}-*.html"))
        assert len(pages) == math.ceil(len(group) / PER_PAGE), reason
        shown = [i for p in pages for i in ids_on(p.read_text())]
        assert sorted(shown) == sorted(group["id"]), reason  # each once, none missing
        col = f"p_{reason}"
        if col in d:  # a scored reason: nearest its threshold first
            margins = [abs(float(d.loc[d["id"] == i, col].iloc[0]) - THRESHOLDS[reason]) for i in shown]
            assert margins == sorted(margins)
    assert not (set(d.loc[d["decision"] != "reject", "id"]) & {i for p in folder.glob("reject-*") for i in
                                                                ids_on(p.read_text())})


def test_the_index_counts_reasons_draws_thresholds_and_shows_kept_near_the_line(tree):
    page = tree.filter_html.read_text()
    d = tree.decisions
    n_small = int((d["reason"] == "small").sum())
    assert f"<td>{n_small}</td>" in page and "<td>duplicate</td><td>1</td>" in page
    assert page.count("<svg") == 2 and page.count("threshold 0.5") == 2
    kept = d[d["decision"] == "keep"]
    near_small = kept.assign(m=(kept["p_small"] - 0.5).abs()).nsmallest(3, "m")["id"].tolist()
    section = page.split("Kept, nearest the small threshold")[1].split("<h2>")[0]
    assert ids_on(section) == near_small
    assert 'data-target="small" data-value="1">wrong: is small' in section


def test_hostile_tags_and_sources_are_text_and_buttons_follow_the_vocabulary(tree):
    first = (tree.reports / "filter").glob("reject-*-small-001.html")
    page = next(first).read_text()
    assert html.esc(SCRIPT_TAG) in page and html.esc(ATTR_TAG) in page
    assert "<script" not in page and "<img src=x" not in page and 'href="javascript' not in page
    assert page.count('data-target="small" data-value="0">wrong: not small</button>') == len(ids_on(page))
    grey = [p for p in (tree.reports / "filter").glob("reject-*-greyscale-*.html")]
    assert all("wrong: not greyscale" in p.read_text() for p in grey)


def test_verdicts_already_given_are_shown_under_their_picture(tree, tmp_path):
    row = tree.decisions.set_index("id").loc[tree.hostile[0]]
    labels = [make_label(tree.hostile[0], row["md5"], "small", 1, "alice"),
              make_label(tree.hostile[0], row["md5"], "small", 0, "bob")]  # the last one is in force
    filter_report(tree.decisions, tree.raw, THRESHOLDS, tmp_path, per_page=50, near_kept=4, thumb=32,
                  verdicts=latest(labels))
    page = next(tmp_path.glob("reject-*-small-001.html")).read_text()
    fig = page.split(f'data-post-id="{tree.hostile[0]}"')[1].split("</figure>")[0]
    assert "reviewed: not small" in fig and page.count("reviewed:") == 1


def test_pages_are_deterministic_and_stale_pages_go(tree, tmp_path):
    one = filter_report(tree.decisions, tree.raw, THRESHOLDS, tmp_path / "a", per_page=3, near_kept=4, thumb=32)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in one)
    again = filter_report(tree.decisions, tree.raw, THRESHOLDS, tmp_path / "a", per_page=50, near_kept=4, thumb=32)
    assert len(again) < len(one) and sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        p.name for p in again)
    twice = filter_report(tree.decisions, tree.raw, THRESHOLDS, tmp_path / "b", per_page=50, near_kept=4, thumb=32)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in twice]
