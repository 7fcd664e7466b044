"""Pair precision and recall of a clustering against ground-truth groups."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def pair_scores(predicted, truth) -> dict[str, float | int]:
    """Precision and recall of the *pairs* put together by ``predicted`` labels against ``truth`` labels.

    A pair counts as predicted when both items share a predicted label, as true when they share a truth
    label. Counted from group sizes, so it is linear in the number of items.
    """
    df = pd.DataFrame({"p": np.asarray(predicted), "t": np.asarray(truth)})
    tp = _pairs(df.groupby(["p", "t"]).size().to_numpy())
    pred = _pairs(df.groupby("p").size().to_numpy())
    true = _pairs(df.groupby("t").size().to_numpy())
    return {
        "precision": tp / pred if pred else 1.0, "recall": tp / true if true else 1.0,
        "true_pairs": true, "predicted_pairs": pred, "correct_pairs": tp,
    }
