"""DVC stage `dedup`: hash the raw store (resumable shards), cluster near-duplicates, report.

    python -m stages.dedup --raw data/raw --out data/dedup --shards data/cache/dedup \
        --report reports/dedup --metrics metrics/dedup.json
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from pipeline.dedup import SearchParams, dedup, hash_posts, metrics, report
from pipeline.manifest import DEDUP, DEDUP_HASHES, DEDUP_PAIRS, RAW_POSTS, read_manifest, write_manifest
from pipeline.store import atomic_write_text


@dataclass(frozen=True)
class Config:
    phash_radius: int
    dhash_radius: int
    min_thumb_corr: float
    max_aspect_change: float
    max_pixels: int
    min_side: int
    shard_size: int
    report_clusters: int
    report_pairs: int


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("raw", "out", "shards", "report", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    cfg = Config(**yaml.safe_load(a.params.read_text())["dedup"])
    search = SearchParams(cfg.phash_radius, cfg.dhash_radius, cfg.min_thumb_corr, cfg.max_aspect_change)
    posts = read_manifest(a.raw / "posts.parquet", RAW_POSTS)
    hashes = hash_posts(posts, a.raw, a.shards, shard_size=cfg.shard_size, workers=a.workers,
                        max_pixels=cfg.max_pixels, min_side=cfg.min_side)
    images, pairs = dedup(posts, hashes, search)
    write_manifest(hashes, a.out / "hashes.parquet", DEDUP_HASHES, sort_by="md5")
    write_manifest(images, a.out / "images.parquet", DEDUP)
    write_manifest(pairs, a.out / "pairs.parquet", DEDUP_PAIRS, sort_by=["md5_a", "md5_b"])
    atomic_write_text(a.report / "index.html", report(images, pairs, a.raw, search, clusters=cfg.report_clusters,
                                                      borderline=cfg.report_pairs))
    m = metrics(images, pairs, search)
    atomic_write_text(a.metrics, json.dumps(m, indent=2, sort_keys=True) + "\n")
    print(f"dedup: {m['posts']} posts, {m['hashed']} hashed, {m['unreadable']} unreadable, {m['clusters']} "
          f"clusters, {m['duplicates_dropped']} duplicates dropped, {m['kept']} kept ({asdict(search)})")


if __name__ == "__main__":
    main()
