"""The evaluate stage's acceptance run: default params on the sample corpus, from a stand-in split to eval.json.

    python -m benchmarks.evaluate [--params params.yaml] [--out bench-out/evaluate]

Until the filter stage (#10) lets `dvc repro` run the whole chain, the split is made here: the colour
illustrations of the first ``samplebooru.posts`` posts of corpus ``samplebooru.seed`` (one per drawing, as
dedup would keep), through the line-art stage's own code (``lineart:``, every variant) into the split
stage's layout (``benchmarks.corpus_shards.write_lineart_split``, 70/20/10 by family, ``split.shard_size``
samples per shard). Then the train, export and evaluate stages run with the params file as it is, and the
figures of every model and the verdicts are printed. Train and export are skipped when their outputs are
already there (delete the folder to start afresh).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml


def run(params: Path, out: Path) -> dict:
    from benchmarks.corpus_shards import write_lineart_split
    from pipeline.config import load_section
    from pipeline.lineart.config import LineartConfig, load_truth_source
    from pipeline.samplebooru.corpus import Corpus
    from stages import evaluate, export, train

    source, times = load_truth_source(params), {}
    split, models, m = out / "split", out / "models", out / "metrics"
    t = time.perf_counter()
    if not (split / "test").is_dir():
        cfg = load_section(params, "lineart", LineartConfig)
        shard = yaml.safe_load(params.read_text())["split"]["shard_size"]
        print("split:", write_lineart_split(Corpus(source.posts, seed=source.seed), split, cfg, shard), flush=True)
    times["split"] = time.perf_counter() - t
    steps = [
        ("train", train, models / "colorizer.pt",
         ["--data", split, "--out", models / "colorizer.pt", "--baseline-l1", models / "baseline_l1.pt",
          "--baseline-trivial", models / "baseline_trivial.json", "--state", out / "state", "--live", out / "live",
          "--metrics", m / "train.json"]),
        ("export", export, models / "colorizer.onnx",
         ["--model", models / "colorizer.pt", "--out", models / "colorizer.onnx", "--metrics", m / "export.json"]),
        ("evaluate", evaluate, None,
         ["--data", split, "--colorizer", models / "colorizer.pt", "--baseline-l1", models / "baseline_l1.pt",
          "--baseline-trivial", models / "baseline_trivial.json", "--report", out / "reports",
          "--metrics", m / "eval.json"]),
    ]
    for name, stage, done, args in steps:
        t = time.perf_counter()
        if done is None or not done.exists():
            if stage.main([str(a) for a in args] + ["--params", str(params)]) != 0:
                raise SystemExit(f"{name} failed")
        times[name] = time.perf_counter() - t
    return {"eval": json.loads((m / "eval.json").read_text()), "train": json.loads((m / "train.json").read_text()),
            "export": json.loads((m / "export.json").read_text()), "seconds": times}


def table(ev: dict) -> str:
    names = [n for n in ("trivial", "l1", "gan") if n in ev["models"]]
    lines = [f"{'figure':22s} {'better':12s} " + " ".join(f"{n:>9s}" for n in names) + "  GAN beats trivial"]
    for metric, way in ev["better"].items():
        vals = " ".join(f"{ev['models'][n].get(metric, float('nan')):9.4f}" for n in names)
        lines.append(f"{metric:22s} {way:12s} {vals}  {ev['gan_beats_trivial'].get(metric, '-')}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=Path("bench-out/evaluate"))
    a = ap.parse_args()
    r = run(a.params, a.out)
    ev = r["eval"]
    print(table(ev))
    print(f"test pictures {ev['models']['gan']['pictures']}; GAN beats trivial on every figure: "
          f"{ev['gan_beats_trivial_everywhere']}; L1 better than GAN on: {ev['l1_better_than_gan']}")
    print("seconds:", {k: round(v, 1) for k, v in r["seconds"].items()})
    print(json.dumps({"models": ev["models"], "gan_beats_trivial_everywhere": ev["gan_beats_trivial_everywhere"],
                      "l1_better_than_gan": ev["l1_better_than_gan"], "parity": r["export"]["parity"]["max_abs_diff"],
                      "train": r["train"], "seconds": r["seconds"]}, sort_keys=True))


if __name__ == "__main__":
    main()
