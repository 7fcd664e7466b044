"""The trivial baseline, so that "better than nothing" is a number.

It paints every line pixel with the training pictures' mean colour of line pixels and every other pixel
with their mean colour of the rest: the best a colorizer can do that looks at nothing but whether a pixel
is on a line. The learnt baseline (the same U-Net trained with L1 alone) is ``mode: l1`` of the one
training loop, not code of its own.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.colorize.augment import decode
from pipeline.colorize.data import Shard
from pipeline.shardio import iter_samples
from pipeline.store import atomic_write_text

LINE_THRESHOLD = 128  # a line-image pixel darker than this is on a line


@dataclass(frozen=True)
class TrivialBaseline:
    line_rgb: tuple[float, float, float]  # mean colour (0-255) of line pixels
    fill_rgb: tuple[float, float, float]  # mean colour of all other pixels
    line_fraction: float  # of the pixels measured
    pictures: int  # how many training pictures were measured

    def predict(self, line: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) line images in [-1, 1] -> (N, 3, H, W) colours in [-1, 1]."""
        on_line = line < (LINE_THRESHOLD / 127.5 - 1.0)
        line_c, fill_c = (torch.tensor(c, dtype=torch.float32, device=line.device).view(1, 3, 1, 1) / 127.5 - 1.0
                          for c in (self.line_rgb, self.fill_rgb))
        return torch.where(on_line, line_c, fill_c)

    def save(self, path: Path | str) -> None:
        atomic_write_text(path, json.dumps({"kind": "trivial", **asdict(self)}, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path | str) -> TrivialBaseline:
        """The baseline ``save`` wrote (what the evaluate stage measures)."""
        data = json.loads(Path(path).read_text())
        if data.pop("kind", None) != "trivial":
            raise ValueError(f"{path}: not a trivial baseline file (no \"kind\": \"trivial\")")
        return cls(tuple(data["line_rgb"]), tuple(data["fill_rgb"]), data["line_fraction"], data["pictures"])


def fit_trivial(shards: list[Shard], max_pictures: int) -> TrivialBaseline:
    """Measure the two mean colours on the first ``max_pictures`` training pictures (in shard order)."""
    sums = np.zeros((2, 3), np.float64)  # [line, fill] x RGB
    counts = np.zeros(2, np.float64)
    pictures = 0
    samples = ((shard, key, parts) for shard in shards for key, parts in iter_samples(shard.path))
    for shard, key, parts in itertools.islice(samples, max_pictures):
        line, color = decode(parts, f"{shard.path}:{key}")
        on_line = line < LINE_THRESHOLD
        for i, mask in enumerate((on_line, ~on_line)):
            sums[i] += color[mask].sum(0, dtype=np.float64)
            counts[i] += mask.sum()
        pictures += 1
    if not pictures:
        raise ValueError("trivial baseline: the train split has no pictures")
    means = sums / np.maximum(counts, 1)[:, None]
    return TrivialBaseline(tuple(means[0].round(3).tolist()), tuple(means[1].round(3).tolist()),
                           round(float(counts[0] / counts.sum()), 6), pictures)
