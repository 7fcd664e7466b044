"""What a split says at a glance: sizes, ratios, per-character balance, the leak check, and its report."""

from __future__ import annotations

import pandas as pd

from pipeline import report as html
from pipeline.split.config import SPLITS, SplitConfig


def split_metrics(rows: pd.DataFrame, leaks: dict, cfg: SplitConfig) -> dict:
    pictures = rows.drop_duplicates("id")
    n = max(len(pictures), 1)
    per = pictures["split"].value_counts()
    chars = pictures[pictures["character"] != ""].groupby(["character", "split"]).size().unstack(fill_value=0)
    return {
        "pictures": int(len(pictures)), "pairs": int(len(rows)), "groups": int(pictures["group"].nunique()),
        "largest_group": int(pictures["group"].value_counts().max()) if len(pictures) else 0,
        "shards": int(rows["shard"].nunique()),
        "splits": {s: {"pictures": int(per.get(s, 0)), "pairs": int((rows["split"] == s).sum()),
                       "ratio": round(int(per.get(s, 0)) / n, 4), "target": cfg.ratios.of(s)} for s in SPLITS},
        "characters": {c: {s: int(chars.loc[c].get(s, 0)) for s in SPLITS} for c in chars.index},
        "leaks": leaks,
    }


def report(m: dict) -> str:
    """reports/split/index.html: counts, balance and the leak check."""
    sizes = html.table(["split", "pictures", "pairs", "ratio", "target"],
                       [(s, v["pictures"], v["pairs"], v["ratio"], v["target"]) for s, v in m["splits"].items()])
    chars = html.table(["character", *SPLITS], [(c, *(v[s] for s in SPLITS)) for c, v in m["characters"].items()])
    leaks = html.table(["check", "count"], list(m["leaks"].items()))
    intro = (f"{m['pictures']} pictures in {m['groups']} groups (largest {m['largest_group']}), "
             f"{m['pairs']} pairs in {m['shards']} shards. Every leak count must be 0.")
    return html.page("Split report", [("Sizes", sizes), ("Characters per split", chars), ("Leak check", leaks)],
                     intro)
