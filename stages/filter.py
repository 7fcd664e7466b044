"""DVC stage `filter`: rules, classifier scores and human verdicts -> one decision per dedup row, a report.

    python -m stages.filter --dedup data/dedup --raw data/raw --model models/classifier.onnx \
        --lines models/lines.onnx --scoring models/scoring.json --shards data/cache/filter --labels review/labels.csv \
        --out data/filter --report reports/filter --metrics metrics/filter.json
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.config import cli, load_keys, load_truth_source, write_metrics
from pipeline.filter.config import FilterConfig
from pipeline.filter.decide import decide
from pipeline.filter.encode import encode_representatives
from pipeline.filter.lines import LineFigure
from pipeline.filter.metrics import filter_metrics
from pipeline.filter.onnx_model import Scorer
from pipeline.filter.scoring import Scoring, measure_rows, tags_by_md5
from pipeline.labels import latest, read_labels, tell_skipped
from pipeline.manifest import DEDUP, FILTER, RAW_POSTS, read_manifest, write_manifest
from pipeline.review.filter_report import filter_report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.filter", description=__doc__.splitlines()[0])
    for name in ("dedup", "raw", "model", "lines", "scoring", "shards", "labels", "out", "report", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    cfg = load_keys(a.params, "filter", FilterConfig)
    source = load_truth_source(a.params)  # truth.* metrics only
    images = read_manifest(DEDUP.path(a.dedup), DEDUP)
    pixels = encode_representatives(images, a.raw, a.shards, cfg.encode, a.workers)
    ok, scoring = pixels[pixels["status"] == "ok"], Scoring.load(a.scoring)
    tags = tags_by_md5(images, read_manifest(RAW_POSTS.path(a.raw), RAW_POSTS))
    measured = measure_rows(ok, tags, scoring.palette, LineFigure(a.lines, threads=a.workers), a.workers, cfg.batch)
    cnn = Scorer(a.model, threads=a.workers).score_rows(ok, cfg.batch, only=scoring.cnn_rows(measured))
    scores = scoring.probabilities(measured, cnn)
    labels, bad = read_labels(a.labels)
    skipped, verdicts = tell_skipped("filter", a.labels, bad), latest(labels)
    decisions = decide(images, pixels, scores, scoring.thresholds, cfg.rules, verdicts)
    write_manifest(decisions, FILTER.path(a.out), FILTER)
    decisions = read_manifest(FILTER.path(a.out), FILTER)  # as written: sorted, typed
    filter_report(decisions, a.raw, scoring.thresholds, a.report, per_page=cfg.report.per_page,
                  near_kept=cfg.report.near_kept, thumb=cfg.encode.preview, verdicts=verdicts, progress=True,
                  previews=dict(zip(pixels["md5"], pixels["preview"], strict=True)))
    m = filter_metrics(decisions, scoring.thresholds, cfg, source) | {"labels_skipped": skipped}
    write_metrics(a.metrics, m)
    print(f"filter: {m['kept']} kept of {m['representatives']} representatives; rejected by reason "
          f"{m['rejected_by_reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
