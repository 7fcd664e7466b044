"""The figure found in the ink map alone: what a grey picture (or a colour one whose tags name no known
appearance) has instead of the palette's measures.

Why (README "Filter"): a greyscale, screentone or line-art picture has no colours to find its figure by, and
the classifier's CNN, trained on framing tags at 64 px, ranks its figure size at AUC 0.95 and its clutter not
at all. But every picture has an ink map, and in every colour illustration the palette finds the figure from
the tags (``Palette.figure``). So a small fully convolutional network (``pipeline.filter.model.LinesNet``)
learns, on the colour illustrations' ink maps, to find the palette's figure from the lines alone (a
character's eyes, hair strands and folds against a scene's trees and windows): tags only, no verdict and no
truth. On the 4,000 posts' 396 grey pictures its figure ranks the truth's ``small`` at AUC 0.975 (the CNN:
0.949), and the ink outside it the truth's ``clutter`` at AUC 0.991 (the ink's lower-quartile window mean:
0.95).

This module has what the filter stage needs, numpy and onnxruntime only: the network's input and target
grids, and ``LineFigure``, which reads ``models/lines.onnx`` into the two measures. Training and export are
``pipeline.filter.lines_train``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from pipeline.filter.onnx_model import open_session

META = "linecolor.lines"  # metadata_props key: JSON {side}
CELL = 4  # input pixels per side of a grid cell
FIGURE = 0.5  # a cell at least this likely is the figure ...
MARGIN = np.ones((3, 3), np.uint8)  # ... and so are the ink map pixels next to it (its outline)


def fitted(ink: np.ndarray, side: int) -> tuple[int, int]:
    """(w, h) of an ink map fitted into ``side`` x ``side``, the aspect kept: the network's input is that,
    at the top left of a ``side`` square of no ink."""
    h, w = ink.shape
    f = side / max(h, w)
    return max(1, round(w * f)), max(1, round(h * f))


def grid_input(ink: np.ndarray, side: int) -> np.ndarray:
    """(side, side) float32 in [0, 1]: the ink map area-scaled into the square (``fitted``)."""
    w, h = fitted(ink, side)
    x = np.zeros((side, side), np.float32)
    x[:h, :w] = cv2.resize(ink, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / np.float32(255)
    return x


def grid_cover(ink: np.ndarray, side: int) -> np.ndarray:
    """(side / 4, side / 4) float32: how much of each grid cell is the picture (the rest: padding)."""
    w, h = fitted(ink, side)
    inside = np.zeros((side, side), np.float32)
    inside[:h, :w] = 1.0
    return cv2.resize(inside, (side // CELL, side // CELL), interpolation=cv2.INTER_AREA)


def grid_target(mask: np.ndarray, side: int) -> np.ndarray:
    """(side / 4, side / 4) float32: each grid cell's share of figure (``mask``: uint8 0/1 on the ink
    map's grid), what the network learns."""
    w, h = fitted(mask, side)
    y = np.zeros((side, side), np.float32)
    y[:h, :w] = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return cv2.resize(y, (side // CELL, side // CELL), interpolation=cv2.INTER_AREA)


def measures(ink: np.ndarray, grid: np.ndarray, side: int) -> tuple[float, float]:
    """(figure share, mean ink outside the figure) of one picture from its ink map and the network's
    figure probabilities (``grid``: side / 4 square). The share is the probabilities' mean over the
    picture's cells; the background is the ink map's pixels whose cell is less than ``FIGURE`` likely,
    less a pixel's margin, as the palette's clutter measure takes it."""
    cover = grid_cover(ink, side)
    share = float((grid * cover).sum() / max(cover.sum(), 1e-6))
    w, h = fitted(ink, side)
    gw, gh = max(1, round(w / CELL)), max(1, round(h / CELL))
    p = cv2.resize(np.ascontiguousarray(grid[:gh, :gw]), ink.shape[::-1], interpolation=cv2.INTER_LINEAR)
    out = cv2.dilate((p >= FIGURE).view(np.uint8), MARGIN) == 0
    return share, float(ink[out].sum()) / 255.0 / max(1, int(out.sum()))


class LineFigure:
    """onnxruntime over ``models/lines.onnx``: ``measure(inks)`` -> each ink map's two measures."""

    def __init__(self, path: Path | str, threads: int = 1):
        self.session, info = open_session(path, threads, META, "line figure network")
        self.side = int(info["side"])

    def grids(self, inks: Sequence[np.ndarray], batch: int) -> np.ndarray:
        """(N, side / 4, side / 4) figure probabilities."""
        out = np.zeros((len(inks), self.side // CELL, self.side // CELL), np.float32)
        for i in range(0, len(inks), batch):
            x = np.stack([grid_input(k, self.side) for k in inks[i:i + batch]])[:, None]
            out[i:i + len(x)] = self.session.run(["figure"], {"ink": x})[0][:, 0]
        return out

    def measure(self, inks: Sequence[np.ndarray], batch: int) -> list[tuple[float, float]]:
        return [measures(k, g, self.side) for k, g in zip(inks, self.grids(inks, batch), strict=True)]
