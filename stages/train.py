"""DVC stage `train`: the pix2pix colorizer and its baselines on the split's shards (resumable, torchrun-ready).

    python -m stages.train --data data/split --out models/colorizer.pt --baseline-l1 models/baseline_l1.pt \
        --baseline-trivial models/baseline_trivial.json --state data/cache/train --live dvclive/train \
        --metrics metrics/train.json
    torchrun --nproc_per_node=2 -m stages.train ...   # the same, on 2 GPUs (or 2 CPU processes)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.colorize.config import LineartDefault, TrainConfig
from pipeline.colorize.runs import train_with_baselines
from pipeline.config import cli, load_keys, load_section, write_metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.train", description=__doc__.splitlines()[0])
    for name in ("data", "out", "state", "live", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--baseline-l1", type=Path, help="also train the U-Net with L1 alone, saved here")
    ap.add_argument("--baseline-trivial", type=Path, help="also measure the trivial baseline, saved here")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    a = ap.parse_args(argv)
    cfg = load_section(a.params, "train", TrainConfig)
    view = load_keys(a.params, "lineart", LineartDefault)  # validation scores the variant evaluate scores
    m, main_rank = train_with_baselines(cfg, a.data, a.out, a.state, a.live, a.baseline_l1, a.baseline_trivial,
                                        view.default)
    if main_rank:
        write_metrics(a.metrics, m)
        runs = ", ".join(f"{k} val L1 {v['val_l1']:.4f} PSNR {v['val_psnr']:.2f} dB"
                         for k, v in m.items() if isinstance(v, dict))
        print(f"train: {runs}" + (f"; beats trivial: {m['beats_trivial']}" if "beats_trivial" in m else ""))
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
