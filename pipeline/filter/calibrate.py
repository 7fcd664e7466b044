"""Labels for the classifier: tag weak labels, human verdicts over them, and the thresholds they calibrate.

Weak labels are free but coarse: ``wide_shot`` says a figure is small, not whether it is *too* small.
Human verdicts (``review/labels.csv``) are few but exact, so they do two things: they replace the tag label
of their picture in training (with more weight), and they set the threshold of their head: the cut of the
labelled pictures' out-of-fold scores that best separates "yes" from "no" (balanced accuracy; the cut
midway between two scores; ties go to the cut nearest the fallback). Labels move the boundary, not only
the weights, and a threshold is never fitted to scores of a model that trained on those pictures.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.filter.config import CalibrationParams, WeakParams
from pipeline.filter.model import HEADS
from pipeline.labels import Label


def weak_labels(tags: pd.Series, weak: WeakParams) -> np.ndarray:
    """(N, heads): 1 / 0 from each head's positive / negative tags, NaN with both or neither."""
    sets = [set(str(t).split()) for t in tags.fillna("")]
    out = np.full((len(sets), len(HEADS)), np.nan)
    for k, head in enumerate(HEADS):
        rule = getattr(weak, head)
        pos = np.array([bool(s.intersection(rule.positive)) for s in sets], bool)
        neg = np.array([bool(s.intersection(rule.negative)) for s in sets], bool)
        out[pos & ~neg, k], out[neg & ~pos, k] = 1.0, 0.0
    return out


def human_labels(md5s: pd.Series, verdicts: Mapping[tuple[str, str], Label]) -> np.ndarray:
    """(N, heads): the verdict in force per picture and head, NaN where there is none."""
    out = np.full((len(md5s), len(HEADS)), np.nan)
    for i, md5 in enumerate(md5s):
        for k, head in enumerate(HEADS):
            lab = verdicts.get((md5, head))
            if lab is not None:
                out[i, k] = lab.value
    return out


def calibrate(scores: np.ndarray, human: np.ndarray, cfg: CalibrationParams) -> dict[str, dict]:
    """Per head: ``threshold``, how it was set (``calibrated`` | ``fallback``) and the labels it saw."""
    out = {}
    for k, head in enumerate(HEADS):
        known = ~np.isnan(human[:, k])
        p, y = scores[known, k], human[known, k] == 1
        n_yes, n_no = int(y.sum()), int((~y).sum())
        record = {"labels": int(known.sum()), "yes": n_yes, "no": n_no}
        if known.sum() >= cfg.min_labels and min(n_yes, n_no) >= cfg.min_each:
            t, acc = best_cut(p, y, cfg.fallback)
            out[head] = record | {"threshold": t, "how": "calibrated", "balanced_accuracy": acc}
        else:
            out[head] = record | {"threshold": cfg.fallback, "how": "fallback"}
    return out


def best_cut(p: np.ndarray, y: np.ndarray, prefer: float) -> tuple[float, float]:
    """The threshold t (predict yes when p >= t) with the best balanced accuracy on (p, y)."""
    values = np.unique(p)
    cuts = np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])
    yes = p[y]
    no = p[~y]
    tpr = (yes[None, :] >= cuts[:, None]).mean(axis=1)
    tnr = (no[None, :] < cuts[:, None]).mean(axis=1)
    bal = (tpr + tnr) / 2
    best = np.flatnonzero(bal >= bal.max() - 1e-12)
    pick = best[np.argmin(np.abs(cuts[best] - prefer))]
    return float(np.clip(cuts[pick], 0.0, 1.0)), float(bal[pick])
