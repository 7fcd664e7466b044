"""Trimming uniform margins: the content box that a border, a letterbox or a crop of plain margin leaves alone.

A figure on a white or flat background is the hard case for every other path: its 48x48 thumbnail is
mostly background, so the alignment of the crop path fits two different small figures as well as it fits
a crop (measured on spec-6 corpora: false window matches are nearly all such pictures), and its pHash
moves with the framing. But a crop that only takes plain margin, or a border or letterbox added around
it, leaves the *content* where it is. So each side of the 128x128 normalised picture is peeled while its
outermost row (column) is uniform: at least ``UNIFORM`` of its pixels within ``TOLERANCE`` grey levels of
its median. What is left is hashed like the whole picture (pHash, dHash, 12x12 thumbnail) and searched
like it, with the content's own aspect ratio (``pipeline.dedup.robust.trimmed_pairs``).

A picture without a plain margin (a detailed background to the edges) keeps its box: its trimmed codes
are its codes, and its crops are the window path's.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 12  # grey levels: JPEG noise around a flat colour stays within it
UNIFORM = 0.97  # share of a row's pixels near its median for the row to count as margin
MIN_KEEP = 0.1  # never peel a side past the point where less than this share of the picture is left


def _leading(uniform: np.ndarray, limit: int) -> int:
    """How many of the first entries are True, at most ``limit``."""
    stop = np.flatnonzero(~uniform[:limit])
    return int(stop[0]) if len(stop) else limit


def _uniform(lines: np.ndarray) -> np.ndarray:
    """Per row of ``lines`` (n, k): is it a margin row?"""
    med = np.median(lines, axis=1, keepdims=True)
    return (np.abs(lines - med) <= TOLERANCE).mean(axis=1) >= UNIFORM


def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of ``grey`` (H, W) once uniform margins are peeled from each side."""
    g = np.asarray(grey, np.int16)
    h, w = g.shape
    x0, y0, x1, y1 = 0, 0, w, h
    ylim, xlim = int(h * (1 - MIN_KEEP) / 2), int(w * (1 - MIN_KEEP) / 2)
    # Rows, then columns, until nothing changes: a frame's side bars keep the rows inside it from looking
    # uniform until the bars are peeled as columns, and the plain margin inside a frame must go too.
    for _ in range(4):
        before = (x0, y0, x1, y1)
        rows = _uniform(g[y0:y1, x0:x1])
        y0 += _leading(rows, max(0, ylim - y0))
        y1 -= _leading(rows[::-1], max(0, ylim - (h - y1)))
        cols = _uniform(g[y0:y1, x0:x1].T)
        x0 += _leading(cols, max(0, xlim - x0))
        x1 -= _leading(cols[::-1], max(0, xlim - (w - x1)))
        if (x0, y0, x1, y1) == before:
            break
    return x0, y0, x1, y1
