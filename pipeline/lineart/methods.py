"""Line-art extraction methods: a scaled RGB picture becomes one channel, dark lines on white.

Every method sees the same grey (``grey``): ``value`` (the largest of R, G and B) keeps saturated flats
(red eyes, blue hair) light, so only what is dark in every channel reads as ink; ``luma`` is the usual
ITU-R 601 grey. Each method returns uint8, ink dark and paper 255 (binary, but XDoG with a small ``phi``
is soft); a pixel is a line pixel when it is below 128, the rule ``pipeline.lineart.truth`` scores by. Line weight (``Variant.thicken``) grows the ink
afterwards. All are deterministic functions of their input (OpenCV, fixed borders): same params, same bytes.

- ``xdog``: Winnemoeller et al.'s extended difference of Gaussians (the Tag2Pix / AlacGAN family).
- ``dilate``: dilate and subtract, measured relative to the neighbourhood: a pixel is ink when it is darker
  than the brightest pixel within ``kernel`` by more than ``threshold`` of that brightness. Relative, so a
  line on a dark flat counts as much as one on white, while a flat/shadow step (a shadow tone is about 0.75
  of its flat) stays paper.
- ``adaptive``: OpenCV's mean adaptive threshold (DeepColor's method).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pipeline.lineart.config import Adaptive, Dilate, Methods, Variant, XDoG

INK, PAPER = 0, 255


def grey(rgb: np.ndarray, channel: str) -> np.ndarray:
    """float32 in [0, 1]: ``value`` (max of R, G, B) or ``luma``."""
    if channel == "value":
        r, gr, b = cv2.split(rgb)
        g = cv2.max(cv2.max(r, gr), b)
    elif channel == "luma":
        g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    else:
        raise ValueError(f"unknown channel {channel!r}")
    return g.astype(np.float32) * np.float32(1 / 255)


def xdog(g: np.ndarray, p: XDoG) -> np.ndarray:
    """XDoG: T = 1 where D >= epsilon, else 1 + tanh(phi (D - epsilon)), as 255 T (soft unless phi is huge)."""
    border = cv2.BORDER_REPLICATE
    d = (cv2.GaussianBlur(g, (0, 0), p.sigma, borderType=border)
         - np.float32(p.gamma) * cv2.GaussianBlur(g, (0, 0), p.sigma * p.k, borderType=border))
    t = 1.0 + np.tanh(np.minimum(d - np.float32(p.epsilon), 0.0) * np.float32(p.phi))
    return np.round(t * 255).astype(np.uint8)


def dilate(g: np.ndarray, p: Dilate) -> np.ndarray:
    """Ink where (max over the kernel - grey) / max(that max, floor) > threshold."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (p.kernel, p.kernel))
    top = cv2.dilate(g, kernel, borderType=cv2.BORDER_REPLICATE)
    dark = (top - g) / np.maximum(top, np.float32(p.floor))
    return np.where(dark > p.threshold, INK, PAPER).astype(np.uint8)


def adaptive(g: np.ndarray, p: Adaptive) -> np.ndarray:
    """Ink where the 0-255 grey is at most its ``block`` x ``block`` mean minus ``c``."""
    u8 = np.round(g * 255).astype(np.uint8)
    return cv2.adaptiveThreshold(u8, PAPER, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, p.block, p.c)


def thicken(lines: np.ndarray, px: int) -> np.ndarray:
    """Ink grown by ``px`` pixels (a min filter over a (2 px + 1) disc): a heavier line weight."""
    if px == 0:
        return lines
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.erode(lines, kernel, borderType=cv2.BORDER_REPLICATE)


def apply(g: np.ndarray, method: str, methods: Methods) -> np.ndarray:
    """One method's line picture of the grey ``g``, with its settings from ``methods``."""
    if method == "xdog":
        return xdog(g, methods.xdog)
    if method == "dilate":
        return dilate(g, methods.dilate)
    if method == "adaptive":
        return adaptive(g, methods.adaptive)
    raise ValueError(f"unknown method {method!r}")


def extract(rgb: np.ndarray, variants: Sequence[Variant], methods: Methods, channel: str) -> list[np.ndarray]:
    """Each variant's line picture: HxW uint8, dark lines on white, the size of ``rgb`` (one grey for all)."""
    g = grey(rgb, channel)
    made: dict[str, np.ndarray] = {}
    out = []
    for v in variants:
        if v.method not in made:
            made[v.method] = apply(g, v.method, methods)
        out.append(thicken(made[v.method], v.thicken))
    return out
