"""Reviewers' pair verdicts in dedup: must-links join, cannot-links split (chains included), none = no change."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from pipeline.dedup import DedupConfig, dedup
from pipeline.dedup import report as dedup_page
from pipeline.dedup.encode import plain_robust_columns
from pipeline.dedup.labels import append_pair_label, make_pair_label, pair_verdicts, read_pair_labels
from pipeline.dedup.verdicts import verdict_metrics
from pipeline.manifest import DEDUP, read_manifest
from tests import test_dedup
from tests.conftest import REPO, repo_params
from tests.test_dedup import run_stage

CFG = repo_params("dedup", DedupConfig)
raw, result = test_dedup.raw, test_dedup.result  # the corpus and its first dedup run (module fixtures)
THUMB = bytes(range(144))


def hand_made(files: dict[str, tuple[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Posts 1, 2, ... each with its own file: {md5 letter: (pHash, dHash)}, all 100x100 with one thumbnail."""
    md5s = [c * 32 for c in files]
    posts = pd.DataFrame({"id": range(1, len(files) + 1), "md5": md5s, "path": [f"images/{m[:2]}/{m}" for m in md5s],
                          "status": "ok", "reason": "", "score": 0, "parent_id": 0})
    hashes = pd.DataFrame({"md5": md5s, "path": posts["path"], "exact_hash": md5s, "status": "ok", "reason": "",
                           "width": 100, "height": 100, "format": "PNG", "lossless": True, "frames": 1,
                           "phash": [p for p, _ in files.values()], "dhash": [d for _, d in files.values()],
                           "thumb": [THUMB] * len(files)})
    return posts, plain_robust_columns(hashes)


def clusters(images: pd.DataFrame) -> dict[str, int]:
    return dict(zip(images["md5"].str[0], images["cluster"], strict=True))


# a - b: 5 pHash bits, 1 dHash bit; b - c: 5 and 2 (weaker); a - c: 10 bits, beyond the search radius.
CHAIN = {"a": ("0000000000000000", "0000000000000000"), "b": ("000000000000001f", "0000000000000001"),
         "c": ("00000000000003ff", "0000000000000007"), "d": ("ffffffffffffffff", "ffffffffffffffff"),
         "e": ("ffffffff00000000", "ffff0000ffff0000")}


def test_a_cannot_link_cuts_the_weakest_link_of_a_chain():
    posts, hashes = hand_made(CHAIN)
    before, _ = dedup(posts, hashes, CFG.search)
    assert clusters(before) == {"a": 1, "b": 1, "c": 1, "d": 4, "e": 5}  # a and c joined only through b
    after, pairs = dedup(posts, hashes, CFG.search, {("a" * 32, "c" * 32): "different"})
    assert clusters(after) == {"a": 1, "b": 1, "c": 3, "d": 4, "e": 5}  # b - c was the weaker edge
    assert pairs["accepted"].sum() == 2  # the pairs keep the search's own verdicts
    assert after.set_index("id").loc[3, ["cluster_size", "join_kind"]].tolist() == [1, ""]


def test_a_must_link_joins_and_a_contradicting_one_is_refused():
    posts, hashes = hand_made(CHAIN)
    same = {("d" * 32, "e" * 32): "same"}
    joined, _ = dedup(posts, hashes, CFG.search, same)
    assert clusters(joined)["d"] == clusters(joined)["e"] == 4
    assert set(joined.set_index("id").loc[[4, 5], "join_kind"]) == {"label"}
    # a same b, b same d, but a different d: one of the must-links has to give, the "different" holds
    rules = {("a" * 32, "d" * 32): "different", ("a" * 32, "b" * 32): "same", ("b" * 32, "d" * 32): "same"}
    images, _ = dedup(posts, hashes, CFG.search, rules)
    c = clusters(images)
    assert c["a"] != c["d"]
    assert verdict_metrics(images, rules) == {"same": 2, "same_honoured": 1, "different": 1,
                                              "different_honoured": 1, "ignored": 0}


def test_a_cannot_link_splits_files_with_identical_hashes_and_absent_files_are_ignored():
    files = {"a": CHAIN["a"], "b": CHAIN["a"], "d": CHAIN["d"]}  # a and b hash alike: one unit
    posts, hashes = hand_made(files)
    assert clusters(dedup(posts, hashes, CFG.search)[0]) == {"a": 1, "b": 1, "d": 3}
    rules = {("a" * 32, "b" * 32): "different", ("0" * 32, "d" * 32): "same"}
    images, _ = dedup(posts, hashes, CFG.search, rules)
    assert clusters(images) == {"a": 1, "b": 2, "d": 3}
    assert verdict_metrics(images, rules)["ignored"] == 1


def test_the_report_offers_pair_buttons_and_shows_verdicts_given(tmp_path):
    posts, hashes = hand_made(CHAIN)
    images, pairs = dedup(posts, hashes, CFG.search)
    page = dedup_page(images, pairs, tmp_path, CFG.search, CFG.report, {("a" * 32, "c" * 32): "different"},
                      report_dir=tmp_path / "report")
    boxes = re.findall(r'<figure data-review="pair" data-md5-a="(\w+)" data-md5-b="(\w+)">(.*?)</figure>', page)
    assert [(x[0], y[0]) for x, y, _ in boxes] == [("b", "a"), ("c", "a")]  # each joined post against the kept one
    assert ["reviewed: different" in body for *_, body in boxes] == [False, True]
    # buttons: each joined post, each borderline direct or trimmed pair, each accepted pair of the other paths
    shown = pairs["kind"].isin(["direct", "trimmed"]).sum() + (pairs["accepted"] & pairs["kind"].isin(
        ["mirror", "trimmed", "window"])).sum()
    assert page.count('data-verdict="different">not the same picture</button>') == len(boxes) + shown
    assert 'href="../images/cc/' in page  # thumbnails open the full-size file, relative to the report


@pytest.mark.parametrize(("kw", "why"), [({"verdict": "maybe"}, "verdict"), ({"md5_b": "a" * 32}, "two different"),
                                         ({"md5_a": "A" * 32}, "md5_a"), ({"source": "<b>"}, "source")])
def test_pair_labels_refuse_what_is_not_in_the_vocabulary(kw, why):
    with pytest.raises(ValueError, match=why):
        make_pair_label(**({"md5_a": "a" * 32, "md5_b": "b" * 32, "verdict": "same", "source": "x"} | kw))


def test_the_stage_honours_the_labels_file_and_no_labels_change_nothing(raw, result, tmp_path):
    """On the 400-post corpus: split a real cluster, join two lone posts; a header-only file is no file."""
    images = read_manifest(DEDUP.path(result / "dedup"), DEDUP)
    ok = images[images["status"] == "ok"]
    big = ok[ok["cluster"] == ok.groupby("cluster").size().idxmax()].sort_values("id")
    lone = ok[ok["cluster_size"] == 1].sort_values("id")["md5"].iloc[:2].tolist()
    out = tmp_path  # as deep as the first run's folder: the report's relative links match
    shutil.copytree(result / "shards", out / "shards")  # saved hashes: only the search runs again
    labels = out / "no_labels.csv"
    shutil.copy(REPO / "review" / "dedup_labels.csv", labels)  # the repo's file: a header only
    run_stage(raw, out)
    for rel in ("dedup/images.parquet", "dedup/pairs.parquet", "metrics.json", "report/index.html"):
        assert (out / rel).read_bytes() == (result / rel).read_bytes(), rel
    split = (big["md5"].iloc[0], big["md5"].iloc[-1])
    append_pair_label(labels, make_pair_label(*split, "different", "tester"))
    append_pair_label(labels, make_pair_label(*lone, "same", "tester"))
    assert len(pair_verdicts(read_pair_labels(labels)[0])) == 2
    run_stage(raw, out)
    after = read_manifest(DEDUP.path(out / "dedup"), DEDUP).set_index("md5")
    assert after.loc[split[0], "cluster"] != after.loc[split[1], "cluster"]
    assert after.loc[lone[0], "cluster"] == after.loc[lone[1], "cluster"]
    assert '"different_honoured": 1' in (out / "metrics.json").read_text()
    assert '"same_honoured": 1' in (out / "metrics.json").read_text()
