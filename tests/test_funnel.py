"""The funnel adds up: every crawled post is kept in a split or dropped once, at a named stage and reason."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.funnel import funnel, outcomes


def frames():
    raw = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6, 7], "status": ["ok", "ok", "ok", "ok", "ok", "failed", "ok"],
                        "reason": ["", "", "", "", "", "http_404", ""]})
    dedup = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6, 7],
                          "status": ["ok", "ok", "unreadable", "ok", "ok", "not_fetched", "ok"],
                          "reason": ["", "", "truncated", "", "", "crawl:http_404", ""],
                          "keep": [True, False, False, True, True, False, True]})
    decisions = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6, 7],
                              "decision": ["keep", "duplicate", "unreadable", "reject", "keep", "not_fetched", "keep"],
                              "reason": ["", "", "", "small", "", "", ""]})
    pairs = pd.DataFrame({"id": [1, 1, 5, 5, 7], "status": ["ok", "ok", "failed", "failed", "ok"],
                          "reason": ["", "", "truncated", "truncated", ""]})
    split = pd.DataFrame({"id": [1, 1, 7], "split": ["train", "train", "test"]})
    return raw, dedup, decisions, pairs, split


def test_every_post_has_one_outcome_and_the_counts_add_up():
    o = outcomes(*frames())
    assert o.to_dict() == {1: "kept:train", 2: "dedup:duplicate", 3: "dedup:unreadable:truncated",
                           4: "filter:small", 5: "lineart:truncated", 6: "crawl:failed:http_404", 7: "kept:test"}
    m = funnel(o)
    assert m["crawled"] == 7 and m["kept"] == {"test": 1, "train": 1} and m["kept_total"] == 2
    assert m["dropped_total"] == {"crawl": 1, "dedup": 2, "filter": 1, "lineart": 1}


def test_a_post_that_vanished_between_stages_is_an_error():
    raw, dedup, decisions, pairs, split = frames()
    with pytest.raises(ValueError, match="vanished"):
        funnel(outcomes(raw, dedup, decisions, pairs, split[split["id"] != 7]))
