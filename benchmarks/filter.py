"""The filter stage's speed against plain decoding of the same files (the bound), in one run.

    .venv/bin/python benchmarks/filter.py [--posts 800] [--workers 2] [--repeats 3] [--also KEY=VALUE]

The first ``--posts`` posts of sample corpus 0 go into a raw store; dedup and the classifier run once
(untimed; params.yaml's settings). Then, alternating, ``--repeats`` times each, medians:

- **filter stage**: ``python -m stages.filter`` in-process with an empty measurement cache: decode (JPEG
  draft), pixel statistics, thumbnails, onnxruntime scores, decisions, the manifest and the whole report;
- **plain decode**: every representative file opened and fully decoded by Pillow (``Image.load``), the
  least any filter that looks at pixels must do, in ``--workers`` processes like the stage.

``--also filter.encode.fine_ink=false`` times the stage a second way in the same run, alternating with the
others, with one params key changed (a YAML value): the cost of a setting, measured in the same hour.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.manifest import DEDUP, read_manifest  # noqa: E402
from pipeline.samplebooru.corpus import Corpus  # noqa: E402
from pipeline.samplebooru.materialize import write_raw  # noqa: E402
from stages import classifier, dedup  # noqa: E402
from stages import filter as filter_stage  # noqa: E402


def _decode(paths: list[str]) -> int:
    for p in paths:
        try:
            with Image.open(p) as im:
                im.load()
        except Exception:  # the stage meets the same broken files; they cost what they cost
            pass
    return len(paths)


def plain_decode(paths: list[str], workers: int) -> float:
    t = time.perf_counter()
    chunks = [paths[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        assert sum(pool.map(_decode, chunks)) == len(paths)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=800)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--also", metavar="KEY=VALUE", help="time the stage with this params key changed too")
    a = ap.parse_args()
    w = Path(tempfile.mkdtemp(prefix="filter-bench-"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["samplebooru"]["posts"] = a.posts
    (w / "params.yaml").write_text(yaml.safe_dump(params))
    if a.also:
        key, value = a.also.split("=", 1)
        *path, last = key.split(".")
        section = params
        for k in path:
            section = section[k]
        if last not in section:
            raise SystemExit(f"--also: params.yaml has no key {key}")
        section[last] = yaml.safe_load(value)
        (w / "also.yaml").write_text(yaml.safe_dump(params))
    write_raw(Corpus(a.posts, seed=params["samplebooru"]["seed"]), w / "raw")
    common = ["--raw", str(w / "raw"), "--params", str(w / "params.yaml"), "--workers", str(a.workers)]
    assert dedup.main(common + ["--out", str(w / "dedup"), "--shards", str(w / "dc"), "--report", str(w / "dr"),
                                "--metrics", str(w / "d.json"), "--labels", str(w / "dl.csv")]) == 0
    base = common + ["--dedup", str(w / "dedup"), "--labels", str(w / "labels.csv"), "--scoring", str(w / "s.json"),
                     "--lines", str(w / "lines.onnx")]
    assert classifier.main(base + ["--shards", str(w / "cc"), "--out", str(w / "c.onnx"),
                                   "--metrics", str(w / "c.json")]) == 0
    images = read_manifest(DEDUP.path(w / "dedup"), DEDUP)
    reps = images[(images["status"] == "ok") & images["keep"]]
    paths = [str(w / "raw" / p) for p in sorted(set(reps["path"]))]
    stage, plain, also = [], [], []
    for k in range(a.repeats):
        plain.append(plain_decode(paths, a.workers))
        stage.append(_stage(w, base))
        line = f"run {k + 1}: filter stage {stage[-1]:.2f} s, plain decode {plain[-1]:.2f} s"
        if a.also:
            also.append(_stage(w, base + ["--params", str(w / "also.yaml")]))
            line += f", filter stage with {a.also} {also[-1]:.2f} s"
        print(line, flush=True)
    s, p = statistics.median(stage), statistics.median(plain)
    print(f"\n{len(paths)} representative files, {a.workers} workers, medians of {a.repeats}:")
    print(f"filter stage {s:.2f} s ({len(paths) / s:.0f} img/s); plain decode {p:.2f} s ({len(paths) / p:.0f} img/s)")
    if a.also:
        print(f"ratio filter with {a.also} / plain decode: {statistics.median(also) / p:.2f}x")
    print(f"ratio filter / plain decode: {s / p:.2f}x (bound: 2x)")
    shutil.rmtree(w, ignore_errors=True)
    return 0


def _stage(w: Path, args: list[str]) -> float:
    """Seconds of one filter stage run with an empty measurement cache (the last ``--params`` wins)."""
    shutil.rmtree(w / "fc", ignore_errors=True)
    t = time.perf_counter()
    assert filter_stage.main(args + ["--shards", str(w / "fc"), "--model", str(w / "c.onnx"), "--out",
                                     str(w / "filter"), "--report", str(w / "report"), "--metrics",
                                     str(w / "f.json")]) == 0
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.exit(main())
