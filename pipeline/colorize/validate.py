"""Validation: L1 and PSNR of a colorizer on whole val pictures, and the epoch's picture grid.

Metrics are on the [0, 1] colour scale over the pictures' real pixels (the padding to the U-Net's factor
is cut off before comparing), summed over every rank's share of the split: the same numbers on one
process or many. Any ``predict(line) -> colour`` is measured the same way, the trivial baseline too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from pipeline.colorize.augment import pad_to, to_tensors, to_uint8, unit
from pipeline.colorize.distributed import Dist, all_sum

Predict = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def evaluate(predict: Predict, loader, d: Dist) -> dict[str, float]:
    """``{"l1", "psnr", "pictures"}`` of ``predict`` over the loader's whole pictures, all ranks together."""
    sums = torch.zeros(4, dtype=torch.float64)
    for line, color, (h, w) in loader:
        out = predict(unit(line.to(d.device))).float().cpu()[..., :h, :w]
        diff = (out.clamp(-1, 1) - unit(color[..., :h, :w])).double() / 2.0
        sums += torch.tensor([diff.abs().sum(), diff.square().sum(), diff.numel(), 1.0], dtype=torch.float64)
    total_abs, total_sq, n, pictures = all_sum(sums, d).tolist()
    if not n:
        raise ValueError("validation saw no pictures: the val split is empty")
    mse = total_sq / n
    return {"l1": total_abs / n, "psnr": 10 * math.log10(1.0 / max(mse, 1e-12)), "pictures": int(pictures)}


def generator_predict(generator: torch.nn.Module, device: torch.device, autocast, channels_last: bool) -> Predict:
    """The generator as a ``predict`` for validation (eval mode: no dropout)."""

    def predict(line: torch.Tensor) -> torch.Tensor:
        if channels_last:
            line = line.contiguous(memory_format=torch.channels_last)
        with autocast():
            return generator(line.to(device))

    return predict


@torch.no_grad()
def picture_grid(samples, predict: Predict, factor: int, size: int, device: torch.device) -> Image.Image:
    """Rows of line | output | truth for fixed samples ``(key, line, colour)``, each fit in ``size`` px."""
    rows = []
    for _key, line, color in samples:
        h, w = line.shape
        padded = pad_to(line, color, -(-h // factor) * factor, -(-w // factor) * factor)
        line_t, _ = to_tensors(*padded)
        out = to_uint8(predict(unit(line_t[None].to(device))).float()[0])[:h, :w]
        rows.append([_fit(np.stack([line] * 3, -1), size), _fit(out, size), _fit(color, size)])
    return Image.fromarray(np.concatenate([np.concatenate(r, 1) for r in rows], 0))


def _fit(picture: np.ndarray, size: int) -> np.ndarray:
    """``picture`` scaled to fit a ``size`` square, centred on white."""
    img = Image.fromarray(picture)
    img.thumbnail((size, size), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return np.asarray(canvas)
