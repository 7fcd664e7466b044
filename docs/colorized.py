"""The README's picture of the colorizer at work: test pictures it never trained on, line | colorizer | truth.

    python -m docs.colorized [--data data/split] [--model models/colorizer.onnx] [--count 6]

after ``make demo`` (or ``dvc repro export``). It colours the test split's line pictures of the default variant
with the exported ONNX model (onnxruntime, as ``python -m pipeline.colorize`` does) and writes
``docs/colorized.png``: one row per picture, evenly spaced over the split (not the best ones), each panel
captioned. No ground truth of the corpus is read: the truth column is the crawled picture itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pipeline.colorize.data import index_split, of_variant
from pipeline.colorize.infer import Colorizer
from pipeline.config import load_keys
from pipeline.evaluate.config import LineartView
from pipeline.evaluate.pictures import load_test_pictures
from pipeline.store import atomic_path

DOCS = Path(__file__).resolve().parent
TILE = 256
CAPTION = 22
COLUMNS = ("line art (input)", "colorizer", "the crawled picture")


def _tile(rgb: np.ndarray, caption: str) -> Image.Image:
    im = Image.fromarray(rgb)
    im.thumbnail((TILE, TILE), Image.Resampling.LANCZOS)
    tile = Image.new("RGB", (TILE, TILE + CAPTION), "white")
    tile.paste(im, ((TILE - im.width) // 2, CAPTION + (TILE - im.height) // 2))
    ImageDraw.Draw(tile).text((6, 4), caption, fill=(40, 40, 40))
    return tile


def sheet(data: Path, model: Path, view: LineartView, count: int) -> Image.Image:
    """``count`` test pictures, evenly spaced over the split's order, as rows of ``COLUMNS``."""
    colorizer = Colorizer(model)
    # the split's keys of the default variant from the tar headers (a clear error if there are none) ...
    keys = [k for shard in of_variant(index_split(data / "test"), view.default) for k in shard.keys]
    chosen = {keys[i] for i in np.linspace(0, len(keys) - 1, min(count, len(keys))).round().astype(int)}
    # ... and only the chosen pictures decoded
    picks = list(load_test_pictures(data, view.default, view.resize, part_map=None, only=chosen))
    out = Image.new("RGB", (TILE * len(COLUMNS), (TILE + CAPTION) * len(picks)), "white")
    for row, pic in enumerate(picks):
        panels = (np.repeat(pic.line[..., None], 3, axis=2), colorizer.run(pic.line), pic.color)  # padding included
        for col, (rgb, caption) in enumerate(zip(panels, COLUMNS, strict=True)):
            out.paste(_tile(rgb, f"{caption}: {pic.key}" if col == 0 else caption), (col * TILE, row * (TILE + CAPTION)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m docs.colorized", description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/split"))
    ap.add_argument("--model", type=Path, default=Path("models/colorizer.onnx"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--count", type=int, default=6)
    ap.add_argument("--out", type=Path, default=DOCS / "colorized.png")
    a = ap.parse_args(argv)
    image = sheet(a.data, a.model, load_keys(a.params, "lineart", LineartView), a.count)
    with atomic_path(a.out) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    print(f"docs: {a.out} ({image.width}x{image.height})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
