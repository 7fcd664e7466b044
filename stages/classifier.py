"""DVC stage `classifier`: the heads "character too small" and "too cluttered": a CNN trained out-of-fold on
tag weak labels and human verdicts (exported to ONNX), the characters' colours learnt from tags, and each
head's score calibrated by the verdicts (models/scoring.json), and the network that finds the figure in
the ink map alone (models/lines.onnx), learnt from the palette's figures.

    python -m stages.classifier --dedup data/dedup --raw data/raw --shards data/cache/filter \
        --labels review/labels.csv --out models/classifier.onnx --lines models/lines.onnx \
        --scoring models/scoring.json --metrics metrics/classifier.json
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.config import cli, load_keys, write_metrics
from pipeline.filter.classifier import train_classifier, training_set
from pipeline.filter.config import ClassifierConfig
from pipeline.filter.encode import encode_representatives
from pipeline.labels import latest, read_labels, tell_skipped
from pipeline.manifest import DEDUP, RAW_POSTS, read_manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.classifier", description=__doc__.splitlines()[0])
    for name in ("dedup", "raw", "shards", "labels", "out", "lines", "scoring", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    cfg = load_keys(a.params, "filter", ClassifierConfig)
    images = read_manifest(DEDUP.path(a.dedup), DEDUP)
    posts = read_manifest(RAW_POSTS.path(a.raw), RAW_POSTS)
    pixels = encode_representatives(images, a.raw, a.shards, cfg.encode, a.workers)
    labels, bad = read_labels(a.labels)
    skipped = tell_skipped("classifier", a.labels, bad)
    result = train_classifier(training_set(images, posts, pixels), latest(labels), cfg, a.out, a.lines, a.shards,
                              a.workers)
    result.scoring.save(a.scoring)
    write_metrics(a.metrics, result.metrics | {"labels_skipped": skipped})
    heads = ", ".join(f"{h} {m} {fit['how']} (boundary {result.metrics[h]['boundary'][m]})"
                      for h, fits in result.scoring.fits.items() for m, fit in fits.items() if m != "cnn")
    print(f"classifier: {result.metrics['pictures']} pictures, {cfg.train.folds} folds, "
          f"{len(result.scoring.palette.profiles)} appearance tags; {heads}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
