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


def truth_metrics(images: pd.DataFrame, dup_group_of) -> dict[str, float | int]:
    """``truth.*`` of the dedup stage: pair precision and recall of its clusters against the sample corpus's
    duplicate groups (``dup_group_of(post_id)``), over the posts whose file decodes (a broken file is no
    drawing to match). Measuring only: nothing here feeds a decision."""
    ok = images[images["status"] == "ok"]
    scores = pair_scores(ok["cluster"], [dup_group_of(int(i)) for i in ok["id"]])
    return {"posts": len(ok), **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}}
