"""DVC with a split packed in tar shards versus one file per picture: `dvc add`, `dvc status`, `dvc push`.

    .venv/bin/python benchmarks/split.py [--pairs 50000] [--shard-size 1000]

Makes ``--pairs`` colour/line pairs (small PNGs: the cost measured is per file, not per byte), then, in two
fresh git+dvc repos with a local directory remote, times `dvc add`, `dvc status` and `dvc push` of the same
pairs as (a) tar shards in the WebDataset convention (``pipeline.shardio``) and (b) one file per
picture. Prints both times and the ratio per command; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.shardio import ShardWriter  # noqa: E402

DVC = str(Path(sys.executable).with_name("dvc"))


def png(rng: np.random.Generator, mode: str) -> bytes:
    shape = (32, 32, 3) if mode == "RGB" else (32, 32)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def sh(cwd: Path, *cmd: str) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - t


def repo(folder: Path, remote: Path) -> Path:
    folder.mkdir(parents=True)
    sh(folder, "git", "init", "-q")
    sh(folder, DVC, "init", "-q")
    sh(folder, DVC, "remote", "add", "-d", "local", str(remote))
    return folder


def timed(folder: Path) -> dict[str, float]:
    return {"add": sh(folder, DVC, "add", "data"), "status": sh(folder, DVC, "status"),
            "push": sh(folder, DVC, "push", "-j", "4")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=50_000)
    ap.add_argument("--shard-size", type=int, default=1000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    pool = [(png(rng, "RGB"), png(rng, "L")) for _ in range(256)]  # reused bytes: distinct names, same cost
    with tempfile.TemporaryDirectory(prefix="split-bench-") as tmp:
        tmp = Path(tmp)
        sharded = repo(tmp / "sharded", tmp / "remote-sharded")
        files = repo(tmp / "files", tmp / "remote-files")
        (sharded / "data").mkdir()
        (files / "data").mkdir()
        keys = [f"{k:010d}_0" for k in range(a.pairs)]
        with ShardWriter(sharded / "data", max_samples=a.shard_size) as w:
            for i, k in enumerate(keys):
                w.write(k, {"color.png": pool[i % 256][0] + k.encode(), "line.png": pool[i % 256][1] + k.encode()})
        for i, k in enumerate(keys):
            sub = files / "data" / k[:7]
            sub.mkdir(exist_ok=True)
            (sub / f"{k}.color.png").write_bytes(pool[i % 256][0] + k.encode())
            (sub / f"{k}.line.png").write_bytes(pool[i % 256][1] + k.encode())
        t_sharded, t_files = timed(sharded), timed(files)
    for cmd in ("add", "status", "push"):
        print(f"dvc {cmd:6s}: {2 * a.pairs:,} files {t_files[cmd]:7.1f} s, "
              f"{-(-a.pairs // a.shard_size)} shards {t_sharded[cmd]:6.1f} s: {t_files[cmd] / t_sharded[cmd]:.1f}x")
    print(json.dumps({"pairs": a.pairs, "shard_size": a.shard_size, "files_s": t_files, "sharded_s": t_sharded,
                      "ratio": {c: t_files[c] / t_sharded[c] for c in t_files}}))


if __name__ == "__main__":
    main()
