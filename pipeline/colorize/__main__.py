"""Colour your own line art (or colour pictures, taken to line art first) with the exported model:

    python -m pipeline.colorize INPUT... -o OUTDIR [--model models/colorizer.onnx] [--input auto|line|color]

onnxruntime only (torch is never imported): CUDA when this onnxruntime has it, the CPU otherwise. INPUTs are
files or folders (their pictures, by extension, searched recursively); each becomes OUTDIR/<name>.png (a
folder's pictures keep their paths below it) at the input's size. An unreadable input is reported and
skipped, the rest are still done; the exit status is 1 if any failed, 2 if the model cannot be used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from pipeline.colorize.infer import KINDS, Colorizer, ModelError
from pipeline.lineart.resize import REASONS, Unreadable
from pipeline.store import atomic_path

DEFAULT_MODEL = Path("models/colorizer.onnx")  # the export stage's output (tests/test_colorize_cli.py checks dvc.yaml)
PICTURES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
WHY = {**REASONS, "missing": "no such file"}


def jobs(inputs: list[Path], out: Path) -> tuple[list[tuple[Path, Path]], int]:
    """``(input file, output file)`` pairs in order, one output name each; and how many files in the
    folders were left out as not pictures (by extension). A missing input is kept: it fails when read."""
    pairs, ignored, taken = [], 0, set()
    for item in inputs:
        if item.is_dir():
            files = sorted(p for p in item.rglob("*") if p.is_file() and not p.name.startswith("."))
            pictures = [p for p in files if p.suffix.lower() in PICTURES]
            ignored += len(files) - len(pictures)
            named = [(p, p.relative_to(item).with_suffix(".png")) for p in pictures]
        else:
            named = [(item, Path(item.stem + ".png"))]
        for src, rel in named:
            dest, n = out / rel, 1
            while dest in taken:  # two inputs of the same name: a.png, a-2.png
                n += 1
                dest = out / rel.with_name(f"{rel.stem}-{n}.png")
            taken.add(dest)
            pairs.append((src, dest))
    return pairs, ignored


def write_png(picture: np.ndarray, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.colorize", description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="picture files or folders")
    ap.add_argument("-o", "--out", required=True, type=Path, help="folder for the coloured PNGs")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help=f"ONNX model (default {DEFAULT_MODEL})")
    ap.add_argument("--input", choices=KINDS, default="auto",
                    help="line: line art; color: a colour picture, taken to line art as training did; auto: tell")
    ap.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: its own)")
    a = ap.parse_args(argv)
    try:
        colorizer = Colorizer(a.model, a.threads)
    except ModelError as exc:
        print(f"colorize: {exc}", file=sys.stderr)
        return 2
    todo, ignored = jobs(a.inputs, a.out)
    failed = 0
    bar = tqdm(todo, desc="colorize", unit="picture", file=sys.stderr, mininterval=0.5)
    for src, dest in bar:
        try:
            picture, kind = colorizer.colorize_file(src, a.input)
            write_png(picture, dest)
        except Unreadable as exc:
            failed += 1
            tqdm.write(f"colorize: skipped {src}: {exc.args[0]} ({WHY[exc.args[0]]})", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - one bad picture never stops the others
            failed += 1
            tqdm.write(f"colorize: skipped {src}: exception:{type(exc).__name__} ({exc})", file=sys.stderr)
        else:
            bar.set_postfix_str(f"{src.name}: {kind}, {picture.shape[1]}x{picture.shape[0]}")
    bar.close()
    note = f", {ignored} non-picture files in the folders left out" if ignored else ""
    print(f"colorize: {len(todo) - failed} of {len(todo)} coloured into {a.out}, {failed} failed{note} "
          f"({colorizer.provider})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
