"""Cel shading and inking: a finished label map becomes colour pixels, outlines and masks.

Kept apart from the drawing code because it never looks at shapes, only at the label map and the label
table, in a few vectorised passes over the whole canvas (see the ``render`` module docstring for what
each pass does). It also measures the background's clutter, since that needs the outlines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.samplebooru.canvas import INK, Canvas

CLUTTER_SCALE = 0.05  # background line density that maps to a measured clutter of 1 - 1/e


def _shift(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]``, replicating the border."""
    out = a.copy()
    h, w = a.shape
    if abs(dx) >= w or abs(dy) >= h:
        return out
    ys_d = slice(max(0, -dy), h - max(0, dy))
    xs_d = slice(max(0, -dx), w - max(0, dx))
    ys_s = slice(max(0, dy), h - max(0, -dy))
    xs_s = slice(max(0, dx), w - max(0, -dx))
    out[ys_d, xs_d] = a[ys_s, xs_s]
    return out


_KERNELS: dict[int, np.ndarray] = {}


def _kernel(k: int) -> np.ndarray:
    if k not in _KERNELS:
        _KERNELS[k] = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return _KERNELS[k]


@dataclass
class Picture:
    """A drawing before its post's tone and encoding: colour pixels plus the truth masks."""

    rgb: np.ndarray  # HxWx3 uint8 colour rendering
    lines: np.ndarray  # HxW bool outlines
    chars: np.ndarray  # HxW bool character pixels
    shadow: np.ndarray  # HxW bool shadow tone
    clutter: float
    parts: np.ndarray  # HxW uint8 part of each region (canvas.PARTS), lines not marked; ground truth only


RECEIVE, CASTS, CHAR = 1, 2, 4


def _lut(L: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[L]`` for a uint8 table, through cv2.LUT when the labels fit in a byte."""
    if len(table) <= 256:
        t = np.zeros(256, np.uint8)
        t[: len(table)] = table
        return cv2.LUT(L.astype(np.uint8), t)
    return np.take(table, L)


def finish(cv: Canvas, light: tuple[float, float], shadow_d: dict[int, int], bg_d: int,
            rng: np.random.Generator) -> Picture:
    """Colour, shade and outline the label map."""
    L, labels = cv.L, cv.labels
    H, W = L.shape
    group, inner, outer, receive, casts = labels.arrays()
    flags = (receive * RECEIVE | casts * CASTS | (group > 0) * CHAR).astype(np.uint8)
    F = _lut(L, flags)

    # Shadow tone. Background pass over the whole canvas, then one pass per character in its box.
    shadow = np.zeros((H, W), bool)
    passes = [(0, 0, 0, W, H, bg_d)] + [
        (g, *cv.bounds[g], shadow_d[g]) for g in sorted(cv.bounds) if g in shadow_d
    ]
    for g, bx0, by0, bx1, by1, d in passes:
        dx, dy = int(round(light[0] * d)), int(round(light[1] * d))
        x0, y0 = max(0, int(bx0) - d - 2), max(0, int(by0) - d - 2)
        x1, y1 = min(W, int(bx1) + d + 3), min(H, int(by1) + d + 3)
        if (dx == 0 and dy == 0) or x1 - x0 < 2 or y1 - y0 < 2:
            continue
        Lr, Fr = L[y0:y1, x0:x1], F[y0:y1, x0:x1]
        if g == 0:
            own = (Fr & (RECEIVE | CHAR)) == RECEIVE
        else:
            lo, hi = labels.ranges[g]
            own = (Lr >= lo) & (Lr <= hi) & ((Fr & RECEIVE) > 0)
        fwd = _shift(Lr, dx, dy)
        back = _shift(Lr, -dx, -dy)
        cast = (back > Lr) & ((_shift(Fr, -dx, -dy) & CASTS) > 0)
        shadow[y0:y1, x0:x1] |= own & ((fwd < Lr) | cast)

    # Outlines: label changes, weighted by the region in front; brush-like variation along strokes.
    E = np.zeros(H * W, np.uint8)
    Lf = L.ravel()
    noise = rng.uniform(0.65, 1.4, size=(H // 48 + 2, W // 48 + 2)).astype(np.float32)
    dh = Lf[:-1] != Lf[1:]
    dh[W - 1::W] = False
    for idx, step in ((np.flatnonzero(dh), 1), (np.flatnonzero(Lf[:-W] != Lf[W:]), W)):
        if not len(idx):
            continue
        la, lb = Lf[idx], Lf[idx + step]
        front = np.maximum(la, lb)
        w = np.where(group[la] == group[lb], inner[front], outer[front]).astype(np.float32)
        w = np.where(w >= 2, np.round(w * noise[idx // W // 48, idx % W // 48]), w)
        w = np.clip(w, 0, 12).astype(np.uint8)
        keep = w > 0
        idx, w = idx[keep], w[keep]
        E[idx] = np.maximum(E[idx], w)  # indices are unique within one direction
    E = E.reshape(H, W)
    lines = cv.S > 0
    for k in np.unique(E[E > 0]) if E.any() else ():
        m = (E == k).view(np.uint8)
        lines |= cv2.dilate(m, _kernel(int(k))) > 0 if k > 1 else m > 0

    # Colour: flat colour, shadow tone where shaded, ink on the lines.
    n = len(labels.rgb)
    pal = np.zeros((2 * n + 1, 4), np.uint8)
    pal[0:2 * n:2, :3], pal[1:2 * n:2, :3], pal[2 * n, :3] = labels.rgb, labels.shade, INK
    idx = np.left_shift(L, 1, dtype=np.uint16) | shadow
    np.putmask(idx, lines, 2 * n)
    if 2 * n + 1 <= 256:  # cv2.LUT per channel is several times faster than a numpy gather
        i8 = idx.astype(np.uint8)
        lut = np.zeros((256, 4), np.uint8)
        lut[: 2 * n + 1] = pal
        rgb = cv2.merge([cv2.LUT(i8, lut[:, c].copy()) for c in range(3)])
    else:
        rgb = cv2.cvtColor(np.take(pal.view(np.uint32).ravel(), idx).view(np.uint8).reshape(H, W, 4),
                           cv2.COLOR_RGBA2RGB)

    chars = (F & CHAR) > 0
    k = 2 * int(outer.max(initial=1)) + 5
    bg = cv2.dilate(chars.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))) == 0
    n_bg = int(np.count_nonzero(bg))
    density = float(np.count_nonzero(lines & bg)) / n_bg if n_bg > 200 else 0.0
    clutter = float(1.0 - math.exp(-density / CLUTTER_SCALE))
    parts = _lut(L, np.array(labels.part, np.uint8))  # the regions: render_post marks the lines last
    return Picture(rgb=rgb, lines=lines, chars=chars, shadow=shadow, clutter=clutter, parts=parts)
