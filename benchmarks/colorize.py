"""onnxruntime against eager torch on the CPU: the colorizer's per-picture latency at 256 and 512 px, one run.

    python -m benchmarks.colorize [--model models/colorizer.pt] [--threads 1] [--runs 15]

The generator is ``--model`` when that file exists, else a fresh U-Net of params.yaml's ``train.generator``
(the time does not depend on the weights). It is exported with the export stage's own code into a temporary
folder. Both run one picture (1 x 1 x S x S) at a time with the same number of threads (torch.set_num_threads,
onnxruntime's intra_op_num_threads), torch in eval mode under inference_mode; after a warm-up the runs
alternate between the two and the median of each is taken. Prints a table and, last, one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from pipeline.colorize.checkpoint import load_generator
from pipeline.colorize.config import TrainConfig
from pipeline.colorize.export import export_onnx
from pipeline.colorize.model import UNet
from pipeline.config import load_section

SIZES = (256, 512)


def generator(model: Path, params: Path) -> tuple[UNet, str]:
    if model.exists():
        return load_generator(model)[0], str(model)
    return UNet(load_section(params, "train", TrainConfig).generator).eval(), "fresh U-Net of params.yaml train.generator"


def latencies(g: UNet, session: ort.InferenceSession, size: int, runs: int, warmup: int = 3) -> dict:
    x = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(size)) * 2 - 1
    feed = {"line": x.numpy()}
    calls = {"onnxruntime": lambda: session.run(["color"], feed), "torch": lambda: g(x)}
    times: dict[str, list[float]] = {k: [] for k in calls}
    with torch.inference_mode():
        diff = float(np.abs(calls["onnxruntime"]()[0] - calls["torch"]().numpy()).max())
        for i in range(warmup + runs):
            for name, call in calls.items():
                t = time.perf_counter()
                call()
                if i >= warmup:
                    times[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"size": size, "onnxruntime_ms": med["onnxruntime"] * 1e3, "torch_ms": med["torch"] * 1e3,
            "speedup": med["torch"] / med["onnxruntime"], "max_abs_diff": diff, "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=Path("models/colorizer.pt"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--threads", type=int, default=1, help="threads for both (the same number)")
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    g, what = generator(a.model, a.params)
    torch.set_num_threads(a.threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = a.threads
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(g, Path(tmp) / "g.onnx", 18)
        session = ort.InferenceSession(str(Path(tmp) / "g.onnx"), options, providers=["CPUExecutionProvider"])
        rows = [latencies(g, session, s, a.runs) for s in SIZES]
    c = g.config
    print(f"\nmodel: {what} (width {c.width}, depth {c.depth}); {a.threads} thread(s) each; median of {a.runs}")
    print(f"{'size':>6} {'onnxruntime ms':>15} {'torch ms':>10} {'speedup':>8} {'max |diff|':>11}")
    for r in rows:
        print(f"{r['size']:>6} {r['onnxruntime_ms']:>15.1f} {r['torch_ms']:>10.1f} {r['speedup']:>7.2f}x "
              f"{r['max_abs_diff']:>11.1e}")
    ok = all(r["speedup"] >= 1.5 for r in rows)
    print(f"onnxruntime at least 1.5x faster than eager torch at every size: {ok}")
    print(json.dumps({"model": what, "threads": a.threads, "rows": rows, "target_1_5x_met": ok}, sort_keys=True))


if __name__ == "__main__":
    main()
