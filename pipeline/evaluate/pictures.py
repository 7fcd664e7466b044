"""The test split's pictures of one line variant, with the corpus's part map on the same pixels.

A test sample (``<id>_<variant>`` in ``data/split/test/shard-*.tar``) is a colour picture and its line picture
at the training resolution: the file area-scaled, then padded (centred) to a multiple
(``pipeline.lineart.resize``). The part map (``Corpus.part_map``, at the file's displayed size) follows the same
``Geometry``: nearest-neighbour scaled to the scaled size (codes are labels: never blended), then placed as
the picture was, the padding coded background. Every figure is then measured on the **picture's own
pixels**, the padding cut off (``Geometry.box``): the white padding is not the model's work and would flatter every
model alike. Without truth (not the sample booru) the geometry is unknown and the whole training picture is
measured, padding included.

Ground truth is for measuring: nothing here feeds back into training or any decision.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.colorize.augment import decode
from pipeline.lineart.config import ResizeParams
from pipeline.lineart.resize import Geometry, geometry, place
from pipeline.samplebooru.corpus import PARTS
from pipeline.shardio import iter_samples, shard_paths

BACKGROUND = PARTS.index("background")
PartMap = Callable[[int], "np.ndarray | None"]


@dataclass(frozen=True)
class EvalPicture:
    key: str
    post_id: int | None  # from the sample's JSON
    line: np.ndarray  # (H, W) uint8, the whole training picture: what every model is given
    color: np.ndarray  # (H, W, 3) uint8, the truth
    parts: np.ndarray | None  # (H, W) PARTS codes on the same pixels, or None without truth
    box: tuple[slice, slice]  # the measured pixels: the picture's own (padding cut off), or all

    def measured(self, a: np.ndarray) -> np.ndarray:
        return a[self.box]


def parts_at(parts: np.ndarray, g: Geometry) -> np.ndarray:
    """A displayed-size part map at the training resolution of ``g`` (nearest neighbour, padding background)."""
    if parts.shape != (g.height, g.width):
        raise ValueError(f"part map {parts.shape[::-1]} is not the picture's size {(g.width, g.height)}")
    scaled = parts if (g.scaled_w, g.scaled_h) == (g.width, g.height) else \
        cv2.resize(parts, (g.scaled_w, g.scaled_h), interpolation=cv2.INTER_NEAREST_EXACT)
    return place(scaled, g, BACKGROUND)


def load_test_pictures(split_dir: Path | str, variant: str, resize: ResizeParams, part_map: PartMap | None,
                  only: set[str] | None = None) -> Iterator[EvalPicture]:
    """The ``test`` split's samples of ``variant`` in shard order (``only``: just these keys)."""
    shards = shard_paths(Path(split_dir) / "test")
    if not shards:
        raise FileNotFoundError(f"{split_dir}/test: no shard-*.tar (written by the split stage)")
    found = 0
    for shard in shards:
        for key, parts in iter_samples(shard):
            if not key.endswith(f"_{variant}") or (only is not None and key not in only):
                continue
            found += 1
            yield _picture(key, parts, f"{shard}:{key}", resize, part_map)
    if not found and only is None:
        raise ValueError(f"{split_dir}/test: no samples of variant {variant!r} (keys <id>_{variant})")


def _picture(key: str, parts: dict[str, bytes], where: str, resize: ResizeParams,
             part_map: PartMap | None) -> EvalPicture:
    line, color = decode(parts, where)
    post_id = json.loads(parts["json"]).get("id") if "json" in parts else None
    truth = part_map(int(post_id)) if part_map is not None and post_id is not None else None
    if truth is None:
        return EvalPicture(key, post_id, line, color, None, (slice(None), slice(None)))
    g = geometry(truth.shape[1], truth.shape[0], resize)
    if (g.out_h, g.out_w) != line.shape:
        raise ValueError(f"{where}: the picture is {line.shape[::-1]} but post {post_id} at lineart.resize gives "
                         f"{(g.out_w, g.out_h)}: the split was made with other resize params")
    return EvalPicture(key, post_id, line, color, parts_at(truth, g), g.box)
