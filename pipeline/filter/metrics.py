"""``metrics/filter.json``: what was kept and rejected per reason, the thresholds, and the truth figures."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from pipeline.config import TruthSource
from pipeline.filter.config import FilterConfig
from pipeline.filter.truth import precision_recall, truth_table
from pipeline.samplebooru.corpus import Corpus


def filter_metrics(decisions: pd.DataFrame, thresholds: dict[str, float], cfg: FilterConfig,
                   source: TruthSource) -> dict:
    reps = decisions[decisions["representative"]]
    rejected = reps[reps["decision"] == "reject"]
    every = Counter(r for rs in rejected["reasons"] for r in rs.split())
    m = {"rows": int(len(decisions)), "representatives": int(len(reps)), "kept": int(reps["keep"].sum()),
         "decisions": {str(k): int(v) for k, v in decisions["decision"].value_counts().sort_index().items()},
         "rejected_by_reason": {str(k): int(v) for k, v in rejected["reason"].value_counts().sort_index().items()},
         "rejected_with_reason": dict(sorted(every.items())), "thresholds": thresholds,
         "verdicts_applied": int((reps["verdicts"] != "").sum()),
         "odd_files": {str(k): int(v) for k, v in reps["decoded_as"].fillna("").value_counts().sort_index().items()
                       if k}}
    if source.is_sample:
        corpus = Corpus(source.posts, seed=source.seed)
        truth = truth_table(reps["id"], corpus.truth, cfg.truth)
        m["truth"] = precision_recall(decisions, truth) | {"definition": {
            "small": f"char_area < {cfg.truth.char_area}", "clutter": f"clutter > {cfg.truth.clutter}"}}
    return m
