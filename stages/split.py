"""DVC stage `split`: line-art pairs -> train/val/test tar shards by group, with a leak check.

    python -m stages.split --lineart data/lineart --dedup data/dedup --raw data/raw --out data/split \
        --report reports/split --metrics metrics/split.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.config import cli, load_section, write_metrics
from pipeline.dedup import DedupConfig
from pipeline.manifest import DEDUP, LINEART, RAW_POSTS, SPLIT, read_manifest, write_manifest
from pipeline.split import SplitConfig, leak_report, plan, report, split_metrics, write_shards
from pipeline.store import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.split", description=__doc__.splitlines()[0])
    for name in ("lineart", "dedup", "raw", "out", "report", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    a = ap.parse_args(argv)
    cfg = load_section(a.params, "split", SplitConfig)
    radius = load_section(a.params, "dedup", DedupConfig).search.phash_radius
    pairs = read_manifest(LINEART.path(a.lineart), LINEART)
    pairs = pairs[pairs["status"] == "ok"]
    dedup = read_manifest(DEDUP.path(a.dedup), DEDUP)
    rows = plan(pairs, dedup, read_manifest(RAW_POSTS.path(a.raw), RAW_POSTS), cfg, radius)
    write_shards(rows, pairs, a.lineart, a.out, cfg.shard_size)
    write_manifest(rows, SPLIT.path(a.out), SPLIT)
    phash = dedup.set_index("id")["phash"].reindex(rows["id"])
    m = split_metrics(rows, leak_report(rows["split"], rows["dedup_group"], phash, radius), cfg)
    write_metrics(a.metrics, m)
    atomic_write_text(a.report / "index.html", report(m))
    s = m["splits"]
    print(f"split: {m['pictures']} pictures in {m['groups']} groups -> train {s['train']['pictures']}, val "
          f"{s['val']['pictures']}, test {s['test']['pictures']} ({m['shards']} shards); leaks {m['leaks']}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
