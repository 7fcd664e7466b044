"""From a finished picture to what a file holds: the post's tone, the encoded bytes, the truth masks.

The masks (lines, character pixels) must follow the file's pixels through a re-upload's resize, so the
mask resampling lives here next to the tones and encoders rather than with the drawing.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from pipeline.samplebooru.shading import Picture


def toned(pic: Picture, tone: str) -> np.ndarray:
    """HxWx3 (colour) or HxW (grey) pixels for the tone, lightly anti-aliased (a 3x3 blur)."""
    return cv2.GaussianBlur(_tone_pixels(pic, tone), (3, 3), 0.55)


def _tone_pixels(pic: Picture, tone: str) -> np.ndarray:
    if tone == "color":
        return pic.rgb
    if tone == "lineart":
        out = np.full(pic.lines.shape, 255, np.uint8)
        out[pic.lines] = 0
        return out
    grey = cv2.cvtColor(pic.rgb, cv2.COLOR_RGB2GRAY)
    if tone == "greyscale":
        return grey
    # monochrome: manga style, white flats, screentone dots for the shadow tone and mid greys
    h, w = grey.shape
    yy, xx = np.ogrid[:h, :w]
    p = max(4, int(round(min(h, w) / 160)))
    dots = ((yy % p) < p // 2) & ((xx % p) < p // 2)
    out = np.where(grey > 200, 255, np.where(grey > 120, 232, 150)).astype(np.uint8)
    out[pic.shadow & dots] = 70
    out[pic.lines] = 0
    return out


def encode(px: np.ndarray, ext: str, quality: int, png_level: int = 1) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(px)
    if ext == "jpg":
        im.save(buf, format="JPEG", quality=quality)
    elif ext == "png":
        im.save(buf, format="PNG", compress_level=png_level)
    else:
        im.save(buf, format="GIF")
    return buf.getvalue()


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def resize_mask(m: np.ndarray, size: tuple[int, int], thresh: int) -> np.ndarray:
    return cv2.resize(m.view(np.uint8) * np.uint8(255), size, interpolation=cv2.INTER_AREA) >= thresh
