"""One sample of the split: decoded, checked, augmented for training, and turned into tensors.

A sample is ``<key>.color.png`` (RGB) and ``<key>.line.png`` (L: dark lines on white) of the same size.
Augmentation draws from a generator seeded by ``(seed, epoch, key)``: a sample gets the same crop, flip and
line weight whichever worker, rank or resumed run loads it, and skipping a sample needs no draw.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from PIL import Image

WHITE = 255
KERNEL = np.ones((2, 2), np.uint8)


class SampleError(ValueError):
    """A sample that breaks the split's contract; the message names its shard and key."""


@dataclass(frozen=True)
class Augment:
    crop: int
    flip: bool
    line_jitter: int


def decode(parts: dict[str, bytes], where: str) -> tuple[np.ndarray, np.ndarray]:
    """The sample's line image (H, W) and colour image (H, W, 3), uint8; a broken sample is a SampleError."""
    missing = [p for p in ("line.png", "color.png") if p not in parts]
    if missing:
        raise SampleError(f"{where}: missing {missing} (has {sorted(parts)})")
    try:
        line_img, color_img = (Image.open(io.BytesIO(parts[p])) for p in ("line.png", "color.png"))
        line_img.load()
        color_img.load()
    except Exception as exc:  # PIL raises many kinds for a bad file
        raise SampleError(f"{where}: unreadable PNG ({type(exc).__name__}: {exc})") from exc
    if line_img.size != color_img.size:
        raise SampleError(f"{where}: line {line_img.size} and colour {color_img.size} differ in size")
    return np.array(line_img.convert("L")), np.array(color_img.convert("RGB"))


def sample_rng(seed: int, epoch: int, key: str) -> np.random.Generator:
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng([seed, epoch, digest])


def pad_to(line: np.ndarray, color: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad bottom and right with white up to at least ``height`` x ``width``."""
    dh, dw = max(0, height - line.shape[0]), max(0, width - line.shape[1])
    if dh or dw:
        line = np.pad(line, ((0, dh), (0, dw)), constant_values=WHITE)
        color = np.pad(color, ((0, dh), (0, dw), (0, 0)), constant_values=WHITE)
    return line, color


def augment(line: np.ndarray, color: np.ndarray, aug: Augment, rng: np.random.Generator):
    """A random ``crop`` x ``crop`` window (white-padded if smaller), a flip, a line weight change."""
    c = aug.crop
    line, color = pad_to(line, color, c, c)
    y = int(rng.integers(0, line.shape[0] - c + 1))
    x = int(rng.integers(0, line.shape[1] - c + 1))
    line, color = line[y:y + c, x:x + c], color[y:y + c, x:x + c]
    if aug.flip and rng.random() < 0.5:
        line, color = line[:, ::-1], color[:, ::-1]
    if aug.line_jitter:
        r = int(rng.integers(-aug.line_jitter, aug.line_jitter + 1))
        if r > 0:  # a minimum filter grows the dark lines
            line = cv2.erode(np.ascontiguousarray(line), KERNEL, iterations=r)
        elif r < 0:
            line = cv2.dilate(np.ascontiguousarray(line), KERNEL, iterations=-r)
    return line, color


def to_tensors(line: np.ndarray, color: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 pictures as uint8 tensors, line (1, H, W) and colour (3, H, W): a quarter of the bytes of
    floats between loader workers and onto the GPU, where ``unit`` turns them into the networks' range."""
    line_t = torch.from_numpy(np.ascontiguousarray(line)).unsqueeze(0)
    return line_t, torch.from_numpy(np.ascontiguousarray(color)).permute(2, 0, 1).contiguous()


def unit(t: torch.Tensor) -> torch.Tensor:
    """uint8 pictures (any device) in the networks' [-1, 1] range, float32."""
    if t.dtype != torch.uint8:
        raise TypeError(f"expected uint8 pictures, got {t.dtype}")
    return t.float().div_(127.5).sub_(1.0)


def to_uint8(t: torch.Tensor) -> np.ndarray:
    """A [-1, 1] tensor (C, H, W) as a uint8 picture (H, W, C), or (H, W) for one channel."""
    a = ((t.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).cpu().numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
