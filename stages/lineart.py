"""DVC stage `lineart`: kept pictures at the training resolution plus their line art, scored against truth.

    python -m stages.lineart --filter data/filter --raw data/raw --out data/lineart \
        --shards data/cache/lineart --report reports/lineart --metrics metrics/lineart.json
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.config import cli, load_section, load_truth_source, write_metrics
from pipeline.lineart import LineartConfig, lineart, metrics, report, score_pairs, truth_metrics
from pipeline.manifest import FILTER, LINEART, read_manifest, write_manifest
from pipeline.samplebooru.corpus import Corpus
from pipeline.store import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.lineart", description=__doc__.splitlines()[0])
    for name in ("filter", "raw", "out", "shards", "report", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    cfg = load_section(a.params, "lineart", LineartConfig)
    source = load_truth_source(a.params)  # truth.* metrics only: the sample booru's line layer
    decisions = read_manifest(FILTER.path(a.filter), FILTER)
    pairs = lineart(decisions, a.raw, a.out, a.shards, cfg, workers=a.workers)
    write_manifest(pairs, LINEART.path(a.out), LINEART)
    line_mask = Corpus(source.posts, seed=source.seed).line_mask if source.is_sample else None
    scores = score_pairs(pairs if line_mask else pairs.iloc[:0], a.out, line_mask, cfg.resize)
    m = metrics(pairs, cfg) | ({"truth": truth_metrics(scores, cfg.default)} if line_mask else {})
    atomic_write_text(a.report / "index.html", report(pairs, scores, a.out, cfg, line_mask))
    write_metrics(a.metrics, m)
    truth = f", default {cfg.default} F1 {m['truth']['f1']:.3f} against the true lines" if line_mask else ""
    print(f"lineart: {m['posts']} kept posts, {m['ok']} ok, {m['failed']} failed, {m['pairs']} pairs "
          f"({m['variants']} variants) at long side {cfg.resize.long_side}{truth}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
