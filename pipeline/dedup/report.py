"""What a dedup result says at a glance: the metrics (counts) and the HTML report (clusters, borderline pairs)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline import report as html
from pipeline.dedup.cluster import KEEP_ORDER
from pipeline.dedup.config import ReportParams, SearchParams
from pipeline.dedup.hashing import THUMB_SIZE


def metrics(images: pd.DataFrame, pairs: pd.DataFrame, params: SearchParams) -> dict:
    """Counts that tell a run at a glance (deterministic: no timings)."""
    ok = images["status"] == "ok"
    clusters = images[ok & (images["cluster_size"] > 1)].groupby("cluster").size()
    reasons = images.loc[images["status"] != "ok", "reason"].value_counts().sort_index()
    return {
        "posts": int(len(images)),
        "hashed": int(ok.sum()),
        "unreadable": int((images["status"] == "unreadable").sum()),
        "not_fetched": int((images["status"] == "not_fetched").sum()),
        "reasons": {str(k): int(v) for k, v in reasons.items()},
        "kept": int(images["keep"].sum()),
        "duplicates_dropped": int((ok & ~images["keep"]).sum()),
        "clusters": int(len(clusters)),
        "largest_cluster": int(clusters.max()) if len(clusters) else 1,
        "exact_duplicates": int((images["join_kind"] == "exact").sum()),
        "candidate_pairs": int(len(pairs)),
        "accepted_pairs": int(pairs["accepted"].sum()) if len(pairs) else 0,
        "families": int(images.loc[images["family"] != images["id"], "family"].nunique()),
        "phash_radius": params.phash_radius,
        "dhash_radius": params.dhash_radius,
        "min_thumb_corr": params.min_thumb_corr,
        "max_aspect_change": params.max_aspect_change,
    }


def report(images: pd.DataFrame, pairs: pd.DataFrame, raw_dir: Path | str, params: SearchParams,
           shown: ReportParams, thumb: int = 150) -> str:
    """An HTML page: the largest clusters, then the pairs nearest the thresholds, side by side."""
    raw_dir = Path(raw_dir)
    ok = images[images["status"] == "ok"]
    path_of = dict(zip(ok["md5"], ok["path"], strict=False))
    sections = []
    sizes = ok[ok["cluster_size"] > 1].groupby("cluster").size().sort_values(ascending=False, kind="stable")
    sizes = sizes.reset_index(name="n").sort_values(["n", "cluster"], ascending=[False, True]).head(shown.clusters)
    body = []
    for cid, n in zip(sizes["cluster"], sizes["n"], strict=True):
        members = ok[ok["cluster"] == cid].sort_values(["keep", "id"], ascending=[False, True])
        figs = []
        for r in members.itertuples():
            cap = (f"#{r.id} {r.width}x{r.height}" + (" kept: " if r.keep else " ") + r.keep_reason
                   + ("" if r.keep else f" d={r.join_distance}/{r.join_dhash} {r.join_kind}"))
            figs.append(html.figure(raw_dir / r.path, cap, thumb, "keep" if r.keep else ""))
        body.append(f"<p>cluster {cid}: {n} posts</p>" + html.row(figs))
    sections.append(("Largest clusters", "".join(body) or "<p>no clusters</p>"))
    if len(pairs):
        margin = pd.concat([
            (pairs["thumb_corr"] - params.min_thumb_corr).abs() / 0.05,
            (params.phash_radius - pairs["phash_distance"]).abs() / 2.0,
            (params.dhash_radius - pairs["dhash_distance"]).abs() / 3.0,
        ], axis=1).min(axis=1)
        near = pairs.assign(margin=margin).sort_values(["margin", "md5_a", "md5_b"], kind="stable")
        near = near.head(shown.pairs)
        body = []
        for r in near.itertuples():
            verdict = "accepted" if r.accepted else "rejected"
            figs = [html.figure(raw_dir / path_of[m], m[:8], thumb) for m in (r.md5_a, r.md5_b) if m in path_of]
            body.append(f"<p>{verdict}: pHash {r.phash_distance}, dHash {r.dhash_distance}, "
                        f"thumbnail correlation {r.thumb_corr:.3f}</p>" + html.row(figs))
        sections.append(("Borderline pairs (nearest the thresholds)", "".join(body)))
        hist = pairs.groupby(["phash_distance", "accepted"]).size().unstack(fill_value=0)
        sections.append(("Candidate pairs by pHash distance", html.table(
            ["pHash distance", "accepted", "rejected"],
            [(int(d), int(hist.loc[d].get(True, 0)), int(hist.loc[d].get(False, 0))) for d in hist.index])))
    intro = (f"A pair is a duplicate when pHash &le; {params.phash_radius} bits (the index search), dHash "
             f"&le; {params.dhash_radius} bits and the {THUMB_SIZE}x{THUMB_SIZE} thumbnails correlate &ge; {params.min_thumb_corr}. "
             f"Kept: first by {' &gt; '.join(KEEP_ORDER)}.")
    return html.page("Dedup report", sections, intro)
