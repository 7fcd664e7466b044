"""``truth.*`` metrics: each reason's precision and recall against the sample corpus's ground truth.

Measuring only: nothing here feeds a decision, the classifier or its calibration. A reason's truth:

- ``small``: the characters cover less than ``truth.char_area`` of the picture; ``clutter``: the measured
  background clutter is above ``truth.clutter`` (params, so "too small" is the user's to define);
- ``greyscale`` / ``monochrome`` / ``lineart``: the file's tone. A colour drawing the corpus stored as a
  16-bit grey PNG is greyscale: its file has no colour left to learn;
- ``comic``: a multi-panel page.

Scored over the representatives the filter could judge on their pixels: decoded, and not rejected for a
file reason (a 1x1 file has no character to measure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from pipeline.filter.config import TruthParams
from pipeline.filter.decide import FILE_REASONS, HEAD_REASONS, PIXEL_REASONS


def truth_table(ids: Iterable[int], truth_of: Callable[[int], object], cfg: TruthParams) -> pd.DataFrame:
    """One row per post id: a bool column per reason (from ``Corpus.truth``)."""
    rows = []
    for pid in ids:
        t = truth_of(int(pid))
        tone = "greyscale" if t.broken == "png16" and t.tone == "color" else t.tone
        rows.append({"id": int(pid), "small": t.char_area < cfg.char_area, "clutter": t.clutter > cfg.clutter,
                     "greyscale": tone == "greyscale", "monochrome": tone == "monochrome",
                     "lineart": tone == "lineart", "comic": t.layout == "comic"})
    return pd.DataFrame(rows)


def judged(decisions: pd.DataFrame) -> pd.DataFrame:
    """The representatives judged on their pixels (see the module docstring)."""
    reps = decisions[decisions["representative"] & decisions["decoded_as"].notna()]
    file_bad = reps["reasons"].map(lambda r: bool(set(r.split()) & set(FILE_REASONS)))
    return reps[~file_bad]


def precision_recall(decisions: pd.DataFrame, truth: pd.DataFrame, exclude: set[int] = frozenset()) -> dict:
    """``{reason: {precision, recall, predicted, true, tp}}`` over ``judged(decisions)`` minus ``exclude``."""
    d = judged(decisions)
    d = d[~d["id"].isin(exclude)].merge(truth, on="id", suffixes=("", "_truth"))
    out = {}
    for reason in PIXEL_REASONS + HEAD_REASONS:
        pred = d["reasons"].map(lambda r, reason=reason: reason in r.split()).to_numpy(bool)
        true = d[reason].to_numpy(bool)
        tp = int((pred & true).sum())
        out[reason] = {"precision": round(tp / pred.sum(), 4) if pred.sum() else None,
                       "recall": round(tp / true.sum(), 4) if true.sum() else None,
                       "predicted": int(pred.sum()), "true": int(true.sum()), "tp": tp}
    return out | {"pictures": int(len(d))}


def borderline(decisions: pd.DataFrame, thresholds: dict[str, float], head: str, n: int,
               skip: set[str]) -> pd.DataFrame:
    """The ``n`` judged pictures whose ``head`` score is nearest its threshold (what the report shows
    first), leaving out the md5s in ``skip`` (already labelled)."""
    d = judged(decisions)
    d = d[d[f"p_{head}"].notna() & ~d["md5"].isin(skip)]
    gap = (d[f"p_{head}"] - thresholds[head]).abs()
    return d.assign(_gap=gap.to_numpy()).sort_values(["_gap", "id"]).head(n).drop(columns="_gap")
