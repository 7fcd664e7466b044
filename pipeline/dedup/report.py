"""What a dedup result says at a glance: the metrics (counts) and the HTML report (clusters, borderline pairs)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

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
        "accepted_by_path": {str(k): int(v) for k, v in
                             (pairs.loc[pairs["accepted"], "kind"].value_counts().sort_index().items()
                              if len(pairs) else [])},
    }


def report(images: pd.DataFrame, pairs: pd.DataFrame, raw_dir: Path | str, params: SearchParams,
           shown: ReportParams, verdicts: Mapping[tuple[str, str], str] | None = None,
           report_dir: Path | str | None = None, thumb: int = 150) -> str:
    """An HTML page: the largest clusters, then the pairs nearest the thresholds, side by side.

    Every post that joined a cluster, and every borderline pair, carries "not the same picture" / "same
    picture" buttons (shown by the review server; a click is a line of ``review/dedup_labels.csv``);
    ``verdicts`` already given are shown. With ``report_dir`` each thumbnail links to its full-size file.
    """
    raw_dir, verdicts = Path(raw_dir), verdicts or {}
    ok = images[images["status"] == "ok"]
    path_of = dict(zip(ok["md5"], ok["path"], strict=False))

    def fig(md5: str, caption: str, css: str = "", data: dict | None = None, actions: html.Html | None = None):
        link = os.path.relpath(raw_dir / path_of[md5], report_dir).replace(os.sep, "/") if report_dir else None
        return html.figure(raw_dir / path_of[md5], caption, thumb, css, link=link and quote(link), data=data,
                           actions=actions)

    sections = [("Largest clusters", _clusters(ok, shown, fig, verdicts))]
    if len(pairs):
        sections.append(("Pairs by path: mirrored, trimmed margins, windows (crops, borders)",
                         _by_path(pairs, shown, path_of, fig, verdicts)))
        sections.append(("Borderline pairs (nearest the thresholds)",
                         _borderline(pairs, params, shown, path_of, fig, verdicts)))
        hist = pairs.groupby(["phash_distance", "accepted"]).size().unstack(fill_value=0)
        sections.append(("Candidate pairs by pHash distance", html.table(
            ["pHash distance", "accepted", "rejected"],
            [(int(d), int(hist.loc[d].get(True, 0)), int(hist.loc[d].get(False, 0))) for d in hist.index])))
    intro = (f"A pair is a duplicate when pHash \u2264 {params.phash_radius} bits (the index search), dHash "
             f"\u2264 {params.dhash_radius} bits and the {THUMB_SIZE}x{THUMB_SIZE} thumbnails correlate \u2265 "
             f"{params.min_thumb_corr}; the same on the mirrored picture{'' if params.mirror else ' (off)'} and on the "
             f"content with uniform margins trimmed (pHash \u2264 {params.trim_radius}); or when a window code is "
             f"\u2264 {params.window_radius} bits and the aligned thumbnails correlate \u2265 {params.min_aligned_corr} "
             f"with gradient agreement \u2265 {params.min_aligned_agree}. Kept: first by {' > '.join(KEEP_ORDER)}.")
    return html.page("Dedup report", sections, intro)


def _pair_buttons(md5_a: str, md5_b: str, verdicts: Mapping[tuple[str, str], str]) -> tuple[dict, html.Html]:
    """The review box's data and its two buttons; a verdict already given is named under them."""
    given = verdicts.get((min(md5_a, md5_b), max(md5_a, md5_b)))
    buttons = html.verdicts([("not the same picture", {"verdict": "different"}),
                             ("same picture", {"verdict": "same"})])
    note = html.el("p", f"reviewed: {given}", class_="meta") if given else None
    return {"review": "pair", "md5_a": md5_a, "md5_b": md5_b}, html.join([note, buttons])


def _clusters(ok: pd.DataFrame, shown: ReportParams, fig, verdicts) -> html.Html:
    sizes = ok[ok["cluster_size"] > 1].groupby("cluster").size().sort_values(ascending=False, kind="stable")
    sizes = sizes.reset_index(name="n").sort_values(["n", "cluster"], ascending=[False, True]).head(shown.clusters)
    body = []
    for cid, n in zip(sizes["cluster"], sizes["n"], strict=True):
        members = ok[ok["cluster"] == cid].sort_values(["keep", "id"], ascending=[False, True])
        kept_md5 = members["md5"].iloc[0]
        figs = []
        for r in members.itertuples():
            cap = (f"#{r.id} {r.width}x{r.height}" + (" kept: " if r.keep else " ") + r.keep_reason
                   + ("" if r.keep else f" d={r.join_distance}/{r.join_dhash} {r.join_kind}"))
            data, actions = _pair_buttons(r.md5, kept_md5, verdicts) if r.md5 != kept_md5 else (None, None)
            figs.append(fig(r.md5, cap, "keep" if r.keep else "", data, actions))
        body += [html.el("p", f"cluster {cid}: {n} posts"), html.row(figs)]
    return html.join(body) if body else html.el("p", "no clusters")


def _borderline(pairs: pd.DataFrame, params: SearchParams, shown: ReportParams, path_of: dict, fig,
                verdicts) -> html.Html:
    pairs = pairs[pairs["kind"].isin(["direct", "trimmed"])]  # the other paths have their own section
    margin = pd.concat([
        (pairs["thumb_corr"] - params.min_thumb_corr).abs() / 0.05,
        (params.phash_radius - pairs["phash_distance"]).abs() / 2.0,
        (params.dhash_radius - pairs["dhash_distance"]).abs() / 3.0,
    ], axis=1).min(axis=1)
    near = pairs.assign(margin=margin).sort_values(["margin", "md5_a", "md5_b"], kind="stable").head(shown.pairs)
    body = []
    for r in near.itertuples():
        verdict = "accepted" if r.accepted else "rejected"
        figs = [fig(m, m[:8]) for m in (r.md5_a, r.md5_b) if m in path_of]
        data, actions = _pair_buttons(r.md5_a, r.md5_b, verdicts)
        body.append(html.el("div", html.el("p", f"{verdict} ({r.kind}): {_numbers(r)}"), html.row(figs), actions,
                            class_="pair", **{f"data_{k}": v for k, v in data.items()}))
    return html.join(body)


def _numbers(r) -> str:
    """What a pair was judged by, in its path's terms."""
    if r.kind == "window":
        return (f"window code {r.window_distance} bits, aligned correlation {r.aligned_corr:.3f}, gradient "
                f"agreement {r.thumb_corr:.3f}, largest cut {r.aspect_change:.3f}")
    return f"pHash {r.phash_distance}, dHash {r.dhash_distance}, thumbnail correlation {r.thumb_corr:.3f}"


def _by_path(pairs: pd.DataFrame, shown: ReportParams, path_of: dict, fig, verdicts) -> html.Html:
    """Counts per path, then the accepted pairs of the mirror, trimmed and window paths: the re-uploads
    the direct pHash search cannot see (mirrored, bordered, cropped), weakest first."""
    counts = pairs.groupby(["kind", "accepted"]).size().unstack(fill_value=0)
    table = html.table(["path", "accepted", "rejected"], [(k, int(counts.loc[k].get(True, 0)),
                                                         int(counts.loc[k].get(False, 0))) for k in counts.index])
    body = [table]
    for kind, weakest in (("mirror", "thumb_corr"), ("trimmed", "thumb_corr"), ("window", "aligned_corr")):
        acc = pairs[pairs["accepted"] & (pairs["kind"] == kind)].sort_values([weakest, "md5_a"], kind="stable")
        for r in acc.head(max(1, shown.pairs // 3)).itertuples():
            data, actions = _pair_buttons(r.md5_a, r.md5_b, verdicts)
            figs = [fig(m, m[:8]) for m in (r.md5_a, r.md5_b) if m in path_of]
            body.append(html.el("div", html.el("p", f"{kind}: {_numbers(r)}"), html.row(figs), actions,
                                class_="pair", **{f"data_{k}": v for k, v in data.items()}))
    return html.join(body)
