"""DVC stage `evaluate`: the GAN and both baselines on the test split, measured exactly, side by side.

    python -m stages.evaluate --data data/split --colorizer models/colorizer.pt --baseline-l1 models/baseline_l1.pt \
        --baseline-trivial models/baseline_trivial.json --report reports/evaluate --metrics metrics/eval.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.config import cli, load_keys, load_section, load_truth_source, write_metrics
from pipeline.evaluate import EvaluateConfig, LineartView, evaluate, load_models
from pipeline.samplebooru.corpus import Corpus
from pipeline.store import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.evaluate", description=__doc__.splitlines()[0])
    for name in ("data", "colorizer", "baseline-l1", "baseline-trivial", "report", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    a = ap.parse_args(argv)
    cfg = load_section(a.params, "evaluate", EvaluateConfig)
    view = load_keys(a.params, "lineart", LineartView)
    source = load_truth_source(a.params)  # per-part figures only on the sample booru, whose part maps we know
    part_map = Corpus(source.posts, seed=source.seed).part_map if source.is_sample else None
    models = load_models(a.colorizer, a.baseline_l1, a.baseline_trivial, cfg.threads)
    m, page, table = evaluate(a.data, models, view, cfg, part_map)
    atomic_write_text(a.report / "index.html", page)
    atomic_write_text(a.report / "pictures.csv", table.to_csv(index=False))
    write_metrics(a.metrics, m)
    gan = m["models"]["gan"]
    print(f"evaluate: {gan['pictures']} test pictures; GAN PSNR {gan['psnr']:.2f} dB, SSIM {gan['ssim']:.3f}; "
          f"beats trivial everywhere: {m['gan_beats_trivial_everywhere']}; "
          f"L1 better than GAN on: {', '.join(m['l1_better_than_gan']) or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
