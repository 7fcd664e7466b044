"""Trimming uniform margins: the content box that a border, a letterbox or a crop of plain margin leaves alone.

Dedup hashes what is inside it (below); the filter's palette paints what is outside it white, so that a
re-upload's frame in a character's colours is not taken for the character (``pipeline.filter.palette``).

A figure on a white or flat background is the hard case for every other path: its 48x48 thumbnail is
mostly background, so the alignment of the crop path fits two different small figures as well as it fits
a crop (measured on spec-6 corpora: false window matches are nearly all such pictures), and its pHash
moves with the framing. But a crop that only takes plain margin, or a border or letterbox added around
it, leaves the *content* where it is. So each side of the 128x128 normalised picture is peeled while its
outermost row (column) is uniform (at least ``UNIFORM`` of its pixels within ``TOLERANCE`` grey levels of
its median) and of that side's margin grey. One layer only: a frame of one grey around a picture with a
white background gives back that picture, which is what its original hashes as (``robust.inner_pairs``
matches the content with every whole picture). What is left is hashed like the whole picture (pHash,
dHash, 12x12 thumbnail; the box found at 64x64, one pixel more taken off each peeled side at 128x128, so
that no blend of margin and content is left in it) and searched like it, with the content's own aspect
ratio (``cluster._trimmed_pairs``).

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


def _edge(line: np.ndarray) -> tuple[int, bool]:
    """An edge line's median grey and whether it is flat (``UNIFORM`` of it within ``TOLERANCE`` of it)."""
    k = len(line)
    med = int(np.partition(line, k // 2)[k // 2])
    return med, int((np.abs(line - med) <= TOLERANCE).sum()) >= UNIFORM * k


def _ring_grey(edges: list[tuple[int, bool]]) -> int | None:
    """The margin grey: one that at least two of the box's four flat edge lines share, else None (one flat
    edge is as likely a flat part of the drawing that reaches the box as a margin)."""
    greys = [g for g, flat in edges if flat]
    shared = [sum(abs(g - o) <= TOLERANCE for o in greys) for g in greys]
    if not greys or max(shared) < 2:
        return None
    return greys[shared.index(max(shared))]  # the first edge's grey among the most shared


def content_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of ``grey`` (H, W) once uniform margins are peeled from each side."""
    g = np.asarray(grey, np.int16)
    h, w = g.shape
    x0, y0, x1, y1 = 0, 0, w, h
    ylim, xlim = int(h * (1 - MIN_KEEP) / 2), int(w * (1 - MIN_KEEP) / 2)
    # Until nothing changes: the rows inside a frame only look flat once its side bars are peeled as
    # columns.
    first = None  # one layer: the margin grey of the first round; a plain area of another grey inside a
    # frame is the picture's own background, and the framed picture is what its original hashes as
    for _ in range(6):
        box = g[y0:y1, x0:x1]
        grey = _ring_grey([_edge(box[0]), _edge(box[-1]), _edge(box[:, 0]), _edge(box[:, -1])])
        if grey is None or (first is not None and abs(grey - first) > TOLERANCE):
            break
        first = grey if first is None else first
        near = np.abs(box - grey) <= TOLERANCE  # a margin line: UNIFORM of it within TOLERANCE of that grey
        rows = near.sum(axis=1) >= UNIFORM * near.shape[1]
        cols = near.sum(axis=0) >= UNIFORM * near.shape[0]
        top, bottom = _leading(rows, max(0, ylim - y0)), _leading(rows[::-1], max(0, ylim - (h - y1)))
        left, right = _leading(cols, max(0, xlim - x0)), _leading(cols[::-1], max(0, xlim - (w - x1)))
        if not top + bottom + left + right:
            break
        x0, y0, x1, y1 = x0 + left, y0 + top, x1 - right, y1 - bottom
    return x0, y0, x1, y1
