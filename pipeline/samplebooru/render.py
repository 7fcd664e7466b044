"""Rendering: a post spec becomes file bytes plus pixel-level ground truth.

PLACEHOLDER: a crude renderer that fixes the contract (``Rendered``, ``render_post``) so the server can
be built against it; the anime cel-style renderer replaces the drawing code.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from pipeline.samplebooru.spec import PostSpec

RENDER_VERSION = 0


@dataclass
class Rendered:
    data: bytes
    width: int
    height: int
    char_area: float
    char_bbox: tuple[int, int, int, int] | None
    clutter: float
    line_mask: np.ndarray | None  # bool HxW, aligned with the file's displayed pixels


def render_post(spec: PostSpec) -> Rendered:
    s = spec.scene
    rng = np.random.default_rng(s.scene_seed)
    img = np.full((s.height, s.width, 3), 255, np.uint8)
    h = int(s.height * min(s.char_scale, 1.0))
    cx, cy = s.width // 2, s.height - h // 2
    mask = np.zeros((s.height, s.width), np.uint8)
    cv2.ellipse(mask, (cx, cy), (max(2, h // 5), max(2, h // 2)), 0, 0, 360, 1, -1)
    img[mask > 0] = rng.integers(0, 255, 3)
    lines = np.zeros_like(mask)
    cv2.ellipse(lines, (cx, cy), (max(2, h // 5), max(2, h // 2)), 0, 0, 360, 1, 3)
    img[lines > 0] = 0
    buf = io.BytesIO()
    fmt = {"jpg": "JPEG", "png": "PNG", "gif": "GIF"}[spec.ext]
    Image.fromarray(img).save(buf, format=fmt, **({"quality": spec.jpeg_quality} if fmt == "JPEG" else {}))
    ys, xs = np.nonzero(mask)
    bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else None
    return Rendered(buf.getvalue(), s.width, s.height, float(mask.mean()), bbox, s.clutter, lines > 0)
