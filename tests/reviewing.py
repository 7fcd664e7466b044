"""A small review tree for the report, server and browser tests: raw store, dedup and filter reports.

48 readable posts of the sample corpus (three duplicate groups among them) in ``data/raw``; two of them
carry hostile tags and sources (a ``<script>`` and an attribute-breaking tag), as a booru could send.
Filter decisions are *synthetic* (the report's tests need no trained filter): seeded random scores cut at
the thresholds, plus a rule reason without a score (greyscale, from the tag), and one duplicate row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.dedup import DedupConfig, dedup, hash_posts
from pipeline.dedup import report as dedup_page
from pipeline.manifest import FILTER, RAW_POSTS, read_manifest, write_manifest
from pipeline.review.filter_report import filter_report
from pipeline.samplebooru.corpus import Corpus
from pipeline.samplebooru.materialize import write_raw
from pipeline.store import atomic_write_text
from tests.conftest import repo_params

SCRIPT_TAG = "<script>alert(1)</script>"
ATTR_TAG = '"><img src=x onerror=alert(1)>'
THRESHOLDS = {"small": 0.5, "clutter": 0.5}
PER_PAGE = 8


@dataclass(frozen=True)
class Tree:
    root: Path
    raw: Path
    reports: Path
    decisions: pd.DataFrame
    hostile: tuple[int, int]  # post ids with the script tag, the attribute-breaking tag

    @property
    def dedup_html(self) -> Path:
        return self.reports / "dedup" / "index.html"

    @property
    def filter_html(self) -> Path:
        return self.reports / "filter" / "index.html"


def synthetic_decisions(posts: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """FILTER rows with seeded random scores (not a model: a stand-in until the filter stage exists)."""
    rng = np.random.default_rng(seed)
    n = len(posts)
    p_small, p_clutter = rng.random(n).round(4), rng.random(n).round(4)
    grey = posts["tags"].str.split().map(lambda t: "greyscale" in t).to_numpy()
    reasons = [" ".join(sorted(r for r, hit in (("small", s >= .5), ("clutter", c >= .5), ("greyscale", g)) if hit))
               for s, c, g in zip(p_small, p_clutter, grey, strict=True)]
    first = [next((r for r in ("small", "clutter", "greyscale") if r in rs.split()), "") for rs in reasons]
    d = pd.DataFrame({"id": posts["id"], "md5": posts["md5"], "path": posts["path"], "cluster": posts["id"],
                      "representative": True, "decision": ["reject" if r else "keep" for r in first],
                      "keep": [not r for r in first], "reason": first, "reasons": reasons,
                      "width": posts["width"], "height": posts["height"], "decoded_as": "", "p_small": p_small,
                      "p_clutter": p_clutter, "figure": np.nan, "background_ink": np.nan, "line_figure": np.nan,
                      "line_ink": np.nan, "page_ink": np.nan, "verdicts": ""})
    dup = d.index[-1]  # one post follows another's decision: a duplicate, not decided, not in the pages
    d.loc[dup, ["cluster", "representative", "decision", "keep", "reason", "reasons"]] = [
        int(d["id"].iloc[0]), False, "duplicate", False, "", ""]
    d.loc[dup, ["p_small", "p_clutter"]] = np.nan
    return d


def build_tree(corpus: Corpus, root: Path) -> Tree:
    raw, reports = root / "data" / "raw", root / "reports"
    ids = [p.id for p in corpus.posts if corpus.truth(p.id).broken is None][:48]
    write_raw(corpus, raw, post_ids=ids)
    posts = read_manifest(RAW_POSTS.path(raw), RAW_POSTS)
    hostile = (int(posts["id"].iloc[1]), int(posts["id"].iloc[2]))
    posts.loc[1, ["tags", "source"]] = [posts.loc[1, "tags"] + " " + SCRIPT_TAG, SCRIPT_TAG]
    posts.loc[2, ["tags", "source"]] = [ATTR_TAG + " " + posts.loc[2, "tags"], "javascript:alert(1)"]
    write_manifest(posts, RAW_POSTS.path(raw), RAW_POSTS)
    decisions = synthetic_decisions(posts)
    for k, pid in enumerate(hostile):  # both rejected as borderline: the first page of "small" shows them
        decisions.loc[decisions["id"] == pid, ["decision", "keep", "reason", "reasons", "p_small"]] = [
            "reject", False, "small", "small", 0.501 + k / 1000]
    write_manifest(decisions, FILTER.path(root / "data" / "filter"), FILTER)
    filter_report(decisions, raw, THRESHOLDS, reports / "filter", per_page=PER_PAGE, near_kept=6, thumb=96)
    cfg = repo_params("dedup", DedupConfig)
    hashes = hash_posts(posts, raw, root / "shards", cfg.hashing, shard_size=cfg.shard_size, workers=1,
                        progress=False)
    images, pairs = dedup(posts, hashes, cfg.search)
    atomic_write_text(reports / "dedup" / "index.html", dedup_page(
        images, pairs, raw, cfg.search, cfg.report, report_dir=reports / "dedup", thumb=96))
    return Tree(root, raw, reports, decisions, hostile)
