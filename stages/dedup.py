"""DVC stage `dedup`: hash the raw store (resumable shards), cluster near-duplicates, report.

    python -m stages.dedup --raw data/raw --out data/dedup --shards data/cache/dedup \
        --report reports/dedup --metrics metrics/dedup.json --labels review/dedup_labels.csv

--labels: reviewers' same/different verdicts (must-links, cannot-links); a missing file means none.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from pathlib import Path

from pipeline.config import cli, load_section, load_truth_source, write_metrics
from pipeline.dedup import DedupConfig, dedup, hash_posts, metrics, report, sample_truth
from pipeline.dedup.labels import pair_verdicts, read_pair_labels
from pipeline.dedup.verdicts import verdict_metrics
from pipeline.labels import tell_skipped
from pipeline.manifest import DEDUP, DEDUP_HASHES, DEDUP_PAIRS, RAW_POSTS, read_manifest, write_manifest
from pipeline.samplebooru.corpus import Corpus
from pipeline.store import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.dedup", description=__doc__.splitlines()[0])
    for name in ("raw", "out", "shards", "report", "metrics", "labels"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    cfg = load_section(a.params, "dedup", DedupConfig)
    posts = read_manifest(RAW_POSTS.path(a.raw), RAW_POSTS)
    hashes = hash_posts(posts, a.raw, a.shards, cfg.hashing, shard_size=cfg.shard_size, workers=a.workers)
    labels, bad = read_pair_labels(a.labels)
    tell_skipped("dedup", a.labels, bad)
    verdicts = pair_verdicts(labels)
    images, pairs = dedup(posts, hashes, cfg.search, verdicts)
    write_manifest(hashes, DEDUP_HASHES.path(a.out), DEDUP_HASHES)
    write_manifest(images, DEDUP.path(a.out), DEDUP)
    write_manifest(pairs, DEDUP_PAIRS.path(a.out), DEDUP_PAIRS)
    atomic_write_text(a.report / "index.html",
                      report(images, pairs, a.raw, cfg.search, cfg.report, verdicts, report_dir=a.report))
    m = metrics(images, pairs, cfg.search) | ({"labels": verdict_metrics(images, verdicts)} if verdicts else {})
    source = load_truth_source(a.params)  # truth.* metrics only: the sample corpus's duplicate groups
    if source.is_sample:
        m["truth"] = sample_truth(images, hashes, pairs, Corpus(source.posts, seed=source.seed).truth, cfg.search.mirror)
    write_metrics(a.metrics, m)
    truth = f"; pairs P/R {m['truth']['precision']:.3f}/{m['truth']['recall']:.3f} against the truth" \
        if "truth" in m else ""
    print(f"dedup: {m['posts']} posts, {m['hashed']} hashed, {m['unreadable']} unreadable, {m['clusters']} "
          f"clusters, {m['duplicates_dropped']} duplicates dropped, {m['kept']} kept ({asdict(cfg.search)}){truth}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
