"""Pixel statistics of one picture: what the tone and comic rules cut, measured once and saved.

Encoding apart from deciding (imagededup's rule): ``measure`` turns decoded pixels into a few numbers that
``rules`` compares with params, so a changed threshold re-decides from the saved numbers without decoding.

- ``colour``: the share of pixels whose chroma (max - min of R, G, B) exceeds ``CHROMA``: a greyscale,
  screentone or line-art picture has none, however small its coloured character would have been.
- ``fill``: mid-grey pixels that are *flat* (no edge within a pixel), per dark line pixel: the fills of
  a greyscale drawing; line art has mid-grey only along its anti-aliased strokes, never in a flat area.
  Per line pixel, not per picture, so a tiny figure on white paper is judged by its own fills.
- ``off_level_fill``: the same, counting only flat greys off screentone's few printed levels: manga
  screentone (``monochrome``) prints white, black, dots and one or two flat tints; a greyscale drawing
  has a grey per colour. These grey tones (and ``ink``) are measured only for pictures with at most
  ``encode.detail_colour`` coloured pixels, the only ones the tone rules read.
- ``panels``: how many bordered, axis-aligned rectangles tile the page, and ``panel_cover``, the share of
  the page they cover: a comic page is two or more panels covering most of it inside a white margin.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

CHROMA = 24  # chroma (0-255) above which a pixel counts as coloured: JPEG noise on grey stays under ~6
FEATURES = ("colour", "ink", "fill", "off_level_fill", "panels", "panel_cover")


def measure(rgb: np.ndarray, grey: np.ndarray) -> dict[str, float]:
    """``colour``, ``panels`` and ``panel_cover`` of an HxWx3 uint8 picture and its grey (see the module
    docstring); the grey tones are ``grey_tones``'s, measured only where they are read (grey pictures)."""
    r, g, b = cv2.split(np.ascontiguousarray(rgb))
    chroma = cv2.subtract(cv2.max(cv2.max(r, g), b), cv2.min(cv2.min(r, g), b))
    out = {"colour": cv2.countNonZero(cv2.threshold(chroma, CHROMA, 255, cv2.THRESH_BINARY)[1]) / chroma.size}
    out.update(_panels(grey))
    return out


def grey_tones(grey: np.ndarray, levels: tuple[int, ...]) -> dict[str, float]:
    """``ink``: the share of dark (line) pixels; ``fill``: flat mid-grey pixels per ink pixel (line art has
    none: its greys are the anti-aliased edges of strokes); ``off_level_fill``: the same, counting only the
    flat greys off the screentone ``levels``. 8-bit OpenCV ops and lookup tables: about 1 ms a picture."""
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.subtract(cv2.dilate(grey, kernel), cv2.erode(grey, kernel))
    flat_mid = cv2.bitwise_and(cv2.LUT(spread, _FLAT), cv2.LUT(grey, _MID))
    off = cv2.bitwise_and(flat_mid, cv2.LUT(grey, _off_levels(levels)))
    ink = max(1, cv2.countNonZero(cv2.LUT(grey, _INK)))
    return {"ink": ink / grey.size, "fill": cv2.countNonZero(flat_mid) / ink, "off_level_fill": cv2.countNonZero(off) / ink}


_V = np.arange(256)
_FLAT = np.where(_V <= 10, 255, 0).astype(np.uint8)  # no neighbour more than 10 levels apart
_MID = np.where((_V >= 90) & (_V <= 238), 255, 0).astype(np.uint8)  # neither paper nor ink
_INK = np.where(_V < 96, 255, 0).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def _off_levels(levels: tuple[int, ...]) -> np.ndarray:
    on = np.any([np.abs(_V - level) <= 5 for level in levels], axis=0) if levels else np.zeros(256, bool)
    return np.where(on, 0, 255).astype(np.uint8)


def _panels(grey: np.ndarray) -> dict[str, float]:
    h, w = grey.shape
    ink = cv2.threshold(grey, 139, 1, cv2.THRESH_BINARY_INV)[1]  # grey < 140
    contours, _ = cv2.findContours(ink, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    page, edge = float(h * w), max(2, int(0.01 * min(h, w)))
    count, cover = 0, 0.0
    for c in contours:
        x, y, cw, ch = cv2.boundingRect(c)
        if cw * ch < 0.03 * page or x < edge or y < edge or x + cw > w - edge or y + ch > h - edge:
            continue  # too small for a panel, or touching the picture's edge (no margin: not a page)
        if cv2.contourArea(c) < 0.93 * cw * ch:
            continue  # not a rectangle
        count += 1
        cover += cw * ch / page
    return {"panels": float(count), "panel_cover": cover}
