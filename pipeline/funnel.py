"""Where every crawled post went: kept in a split, or dropped at which stage and why.

One outcome per post, decided in pipeline order from the stages' manifests alone, so the counts add up:
``crawled == sum(kept per split) + sum(dropped per stage and reason)`` (``check`` raises if they do not,
or if a post is missing from a later manifest that should carry it: nothing may vanish between stages).

- crawl: a post not fetched (``failed`` or ``rejected``), by the crawl's reason;
- dedup: a fetched file that could not be read, by reason, or a duplicate of the post kept for its cluster;
- filter: a representative rejected, by its first reason (every reason is in the filter's own metrics);
- lineart: a kept picture none of whose variants could be made, by reason;
- split: the rest, by split.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from pipeline import report as html

STAGES = ("crawl", "dedup", "filter", "lineart")


def outcomes(raw: pd.DataFrame, dedup: pd.DataFrame, decisions: pd.DataFrame, pairs: pd.DataFrame,
             split: pd.DataFrame) -> pd.Series:
    """Each post id's outcome: ``<stage>:<reason>`` when dropped, ``kept:<split>`` when in a split."""
    out = pd.Series(pd.NA, index=pd.Index(raw["id"].to_numpy(), name="id"), dtype="object")

    def drop(ids: pd.Series, labels: pd.Series) -> None:
        todo = out.loc[ids.to_numpy()].isna().to_numpy()
        out.loc[ids.to_numpy()[todo]] = labels.to_numpy()[todo]

    bad = raw[raw["status"] != "ok"]
    drop(bad["id"], "crawl:" + bad["status"] + ":" + bad["reason"].fillna(""))
    d = dedup.set_index("id").reindex(out.index)
    unread = d[d["status"] == "unreadable"]
    drop(unread.index.to_series(), "dedup:unreadable:" + unread["reason"].fillna(""))
    dup = d[(d["status"] == "ok") & ~d["keep"].fillna(False).astype(bool)]
    drop(dup.index.to_series(), pd.Series("dedup:duplicate", index=dup.index))
    f = decisions.set_index("id").reindex(out.index)
    rej = f[f["decision"] == "reject"]
    drop(rej.index.to_series(), "filter:" + rej["reason"].fillna(""))
    ok_pairs = pairs[pairs["status"] == "ok"]
    made = set(ok_pairs["id"])
    failed = pairs[~pairs["id"].isin(made)].drop_duplicates("id")
    drop(failed["id"], "lineart:" + failed["reason"].fillna(""))
    placed = split.drop_duplicates("id")
    drop(placed["id"], "kept:" + placed["split"])
    return out


def funnel(outcome: pd.Series) -> dict:
    """The counts ``metrics/funnel.json`` holds; raises when a post has no outcome."""
    missing = outcome[outcome.isna()]
    if len(missing):
        raise ValueError(f"{len(missing)} posts vanished between stages, e.g. ids {missing.index[:5].tolist()}")
    kinds = Counter(outcome)
    dropped: dict[str, dict[str, int]] = {s: {} for s in STAGES}
    kept: dict[str, int] = {}
    for label, n in sorted(kinds.items()):
        stage, _, reason = label.partition(":")
        if stage == "kept":
            kept[reason] = n
        else:
            dropped[stage][reason] = n
    m = {"crawled": int(len(outcome)), "kept": kept, "kept_total": sum(kept.values()), "dropped": dropped,
         "dropped_total": {s: sum(v.values()) for s, v in dropped.items()}}
    if m["kept_total"] + sum(m["dropped_total"].values()) != m["crawled"]:
        raise AssertionError("the funnel does not add up")
    return m


REPORTS = (("dedup", "Dedup: clusters and borderline pairs"), ("filter", "Filter: every rejection, borderline first"),
           ("lineart", "Line art: colour | extracted | true lines, worst first"),
           ("split", "Split: sizes, characters, leak check"), ("evaluate", "Evaluation: colorizer against baselines"))


def index_page(m: dict, reports_dir: Path | str, metrics: dict[str, dict]) -> str:
    """reports/index.html: the funnel, then a link to every stage's report that exists, with its headline."""
    reports_dir = Path(reports_dir)
    rows = [("crawled", "", m["crawled"])]
    for stage in STAGES:
        for reason, n in m["dropped"][stage].items():
            rows.append((f"dropped at {stage}", reason, n))
    rows += [("kept", split, n) for split, n in m["kept"].items()]
    links = [html.el("li", html.link(f"{name}/index.html", title)) for name, title in REPORTS
             if (reports_dir / name / "index.html").exists()]
    sections = [("Every post, accounted for", html.table(["outcome", "reason", "posts"], rows)),
                ("Reports", html.el("ul", *links))]
    heads = [(name, key, value) for name, mm in metrics.items() for key, value in _headline(mm)]
    if heads:
        sections.append(("Headline metrics", html.table(["stage", "metric", "value"], heads)))
    intro = (f"{m['crawled']} posts crawled, {m['kept_total']} kept in the splits; "
             "each dropped post is counted once, at the first stage that dropped it.")
    return html.page("linecolor: the dataset at a glance", sections, intro)


def _headline(m: dict, prefix: str = "") -> list[tuple[str, object]]:
    """The flat numeric entries of a metrics dict under its truth / leaks / models keys, for the index."""
    out = []
    for k, v in sorted(m.items()):
        key = f"{prefix}{k}"
        if isinstance(v, dict) and len(out) < 40:
            if prefix or k in ("truth", "leaks", "models", "splits"):
                out += _headline(v, key + ".")
        elif prefix and isinstance(v, int | float) and not isinstance(v, bool):
            out.append((key, round(v, 4) if isinstance(v, float) else v))
    return out
