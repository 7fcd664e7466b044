"""Scoring extracted lines against the sample corpus's true line layer (``truth.*`` metrics only).

The true layer (``Corpus.line_mask``: a boolean mask of the drawn outlines at file size, aligned with the
displayed picture) is brought to the training resolution once, the same way for every method: area
resampling to the picture's scaled size, a pixel being a line pixel when at least ``100/255`` of it is
covered (the corpus's own rule for the mask of a resized re-upload, ``samplebooru.encoding.resize_mask``),
then padded (no lines) or cropped exactly as the picture. An extracted pixel is a line pixel when it is
below 128. With ``TOLERANCE`` = 1 pixel: a predicted line pixel is correct when a true one lies within its
3x3 neighbourhood (precision), and a true line pixel is found when a predicted one does (recall). Counts
are pooled over all pictures (``f1``); ``f1_mean`` averages per-picture F1.

Ground truth is for measuring: nothing here feeds back into what the stage writes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from pipeline.lineart.resize import Geometry, geometry, place
from pipeline.samplebooru.encoding import resize_mask

COVERAGE_LEVEL = 100  # of 255: resize_mask's threshold, the corpus's rule for a resized mask
TOLERANCE = 1  # pixels


def true_lines(mask: np.ndarray, g: Geometry) -> np.ndarray:
    """The true line mask (displayed file size) at the training resolution of ``g``: bool out_h x out_w."""
    if mask.shape != (g.height, g.width):
        raise ValueError(f"line mask {mask.shape[::-1]} is not the picture's size {(g.width, g.height)}")
    scaled = mask if (g.scaled_w, g.scaled_h) == (g.width, g.height) else \
        resize_mask(np.ascontiguousarray(mask, dtype=bool), (g.scaled_w, g.scaled_h), COVERAGE_LEVEL)
    return place(scaled, g, False)


def counts(lines: np.ndarray, truth: np.ndarray, tolerance: int = TOLERANCE) -> tuple[int, int, int, int]:
    """(correct predicted, predicted, found true, true) line pixels, within ``tolerance`` pixels (square)."""
    pred = lines < 128
    if pred.shape != truth.shape:
        raise ValueError(f"line picture {pred.shape[::-1]} and truth {truth.shape[::-1]} differ in size")
    near = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    near_truth = cv2.dilate(truth.view(np.uint8), near) > 0
    near_pred = cv2.dilate(pred.view(np.uint8), near) > 0
    return (int(np.count_nonzero(pred & near_truth)), int(np.count_nonzero(pred)),
            int(np.count_nonzero(truth & near_pred)), int(np.count_nonzero(truth)))


def prf(tp_p: float, n_pred: float, tp_r: float, n_true: float) -> tuple[float, float, float]:
    """Precision, recall, F1 (an empty prediction is precise, an empty truth fully recalled)."""
    p = tp_p / n_pred if n_pred else 1.0
    r = tp_r / n_true if n_true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score_pairs(pairs: pd.DataFrame, out_dir: Path | str, line_mask, resize) -> pd.DataFrame:
    """Per (post, variant) counts and F1 of the ok pairs whose post has a true layer (``line_mask(id)``).

    ``line_mask`` is ``Corpus.line_mask``; ``resize`` the ``ResizeParams`` the pairs were made with.
    """
    out_dir = Path(out_dir)
    rows = []
    ok = pairs[pairs["status"] == "ok"]
    for post_id, group in ok.groupby("id", sort=True):
        mask = line_mask(int(post_id))
        if mask is None:
            continue
        first = group.iloc[0]
        truth = true_lines(mask, geometry(int(first.source_width), int(first.source_height), resize))
        for r in group.itertuples():
            lines = np.asarray(Image.open(out_dir / r.lines))
            c = counts(lines, truth)
            rows.append({"id": int(post_id), "variant": r.variant, "method": r.method,
                         "tp_p": c[0], "n_pred": c[1], "tp_r": c[2], "n_true": c[3], "f1": prf(*c)[2]})
    return pd.DataFrame(rows, columns=["id", "variant", "method", "tp_p", "n_pred", "tp_r", "n_true", "f1"])


def summary(scores: pd.DataFrame) -> dict:
    """Pooled precision, recall and F1, mean per-picture F1 and the number of pictures scored."""
    p, r, f = prf(*(float(scores[c].sum()) for c in ("tp_p", "n_pred", "tp_r", "n_true")))
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
            "f1_mean": round(float(scores["f1"].mean()), 4) if len(scores) else 0.0, "pictures": int(len(scores))}


def truth_metrics(scores: pd.DataFrame, default: str) -> dict:
    """``truth``: the default variant's figures at the top, every variant's under ``variants``."""
    by = {str(v): {"method": str(g["method"].iloc[0]), **summary(g)} for v, g in scores.groupby("variant")}
    top = by.get(default, {"precision": 0.0, "recall": 0.0, "f1": 0.0, "f1_mean": 0.0, "pictures": 0})
    return {**{k: top[k] for k in ("precision", "recall", "f1", "f1_mean", "pictures")}, "default": default,
            "coverage": round(COVERAGE_LEVEL / 255, 4), "tolerance_px": TOLERANCE, "variants": by}
