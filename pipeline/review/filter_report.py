"""``reports/filter/``: what the filter rejected and why, in pages a reviewer can act on.

``index.html`` has the counts per decision and per reason, a histogram per scored head with its threshold
drawn, links to the reason pages, and the *kept* pictures nearest each threshold (false keeps matter as much
as false rejects). ``reject-NN-<reason>-PPP.html`` holds every rejected picture of one reason (its first
reason), ``per_page`` at a time, borderline first (score nearest its threshold). Each picture shows its
thumbnail (linked to the full-size file), its scores, reasons, tags and source as text, and verdict buttons
per reason or head (``pipeline.labels`` targets only): "wrong"/"right" become ``review/labels.csv`` lines
through the review server, which the classifier and filter stages read on their next run.

Pages stay small however many rejections there are: thumbnails are inlined per page, nothing else loads.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from tqdm import tqdm

from pipeline import report as html
from pipeline.labels import TARGETS, Label
from pipeline.manifest import RAW_POSTS, read_manifest
from pipeline.store import atomic_write_text

DECISIONS = ("keep", "reject", "duplicate", "unreadable", "not_fetched")
_PAGE = re.compile(r"reject-\d+-[a-z0-9-]+-\d+\.html\Z")


def filter_report(decisions: pd.DataFrame, raw_dir: Path | str, thresholds: Mapping[str, float],
                  out_dir: Path | str, *, per_page: int, near_kept: int, thumb: int = 150,
                  verdicts: Mapping[tuple[str, str], Label] | None = None, progress: bool = False,
                  previews: Mapping[str, bytes] | None = None) -> list[Path]:
    """Write ``out_dir/index.html`` and the reason pages from ``decisions`` (the FILTER manifest, with its
    ``p_<head>`` score columns) and the raw folder (files, tags); return the files written.

    ``thresholds`` maps a head (``small``) to the threshold its ``p_small`` was cut at; ``verdicts``
    (``pipeline.labels.latest``: (md5, target) -> Label) are shown under the pictures they are about.
    ``progress`` shows a bar on stderr (a thumbnail per rejection: 100k take minutes); ``previews`` (md5 ->
    JPEG bytes, the filter's saved ones) spare decoding the files again.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    extra = ["id"] + [c for c in ("tags", "source") if c not in decisions.columns]  # the decisions' own win
    posts = read_manifest(RAW_POSTS.path(raw_dir), RAW_POSTS)[extra]
    d = decisions.merge(posts, on="id", how="left").sort_values("id", kind="stable")
    heads = [h for h in thresholds if f"p_{h}" in d.columns]
    pic = _Pictures(raw_dir, out_dir, thresholds, heads, thumb, verdicts or {}, previews or {})
    rejected = d[d["decision"] == "reject"]
    reasons = sorted(rejected["reason"].unique(), key=lambda r: (-int((rejected["reason"] == r).sum()), r))
    written, index_links = [], []
    bar = tqdm(total=len(rejected), desc="filter report", unit="picture", file=sys.stderr, disable=not progress)
    for i, reason in enumerate(reasons, start=1):
        group = _borderline_first(rejected[rejected["reason"] == reason], reason, thresholds)
        pages = max(1, math.ceil(len(group) / per_page))
        names = [f"reject-{i:02d}-{_slug(reason)}-{p + 1:03d}.html" for p in range(pages)]
        index_links.append((reason, len(group), names[0]))
        nav_pages = [("index.html", "index")] + [(n, f"page {p + 1}") for p, n in enumerate(names)]
        for p, name in enumerate(names):
            part = group.iloc[p * per_page:(p + 1) * per_page]
            body = html.row(pic.figure(r, reasons=[reason, *(x for x in r.reasons.split() if x != reason)])
                            for r in part.itertuples())
            text = html.page(f"Rejected: {reason} (page {p + 1} of {pages})",
                             [(f"{len(group)} pictures, borderline first", body)], nav=html.pager(nav_pages, p + 1))
            written.append(_write(out_dir / name, text))
            bar.update(len(part))
    bar.close()
    written.append(_write(out_dir / "index.html", _index(d, heads, thresholds, index_links, pic, near_kept)))
    keep = {p.name for p in written}
    for stale in out_dir.glob("reject-*.html"):  # pages of an earlier, longer run
        if _PAGE.match(stale.name) and stale.name not in keep:
            stale.unlink()
    return written


def _write(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path


def _slug(reason: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(reason).lower()).strip("-")[:40] or "reason"


def _borderline_first(group: pd.DataFrame, reason: str, thresholds: Mapping[str, float]) -> pd.DataFrame:
    col = f"p_{reason}"
    if reason not in thresholds or col not in group:
        return group
    margin = (group[col] - thresholds[reason]).abs()
    return group.assign(_m=margin).sort_values(["_m", "id"], na_position="last", kind="stable").drop(columns="_m")


class _Pictures:
    """One picture as a figure: thumbnail, scores, reasons, tags, source, verdict buttons."""

    def __init__(self, raw_dir: Path, out_dir: Path, thresholds: Mapping[str, float], heads: list[str], thumb: int,
                 verdicts: Mapping[tuple[str, str], Label], previews: Mapping[str, bytes]):
        self.raw_dir, self.out_dir, self.thresholds, self.heads = raw_dir, out_dir, thresholds, heads
        self.thumb, self.verdicts, self.previews = thumb, verdicts, previews

    def figure(self, r, *, reasons: list[str] = (), kept_near: str | None = None) -> html.Html:
        path = self.raw_dir / r.path
        link = quote(os.path.relpath(path, self.out_dir).replace(os.sep, "/"))
        lines = [" ".join(f"p_{h} {getattr(r, f'p_{h}'):.3f}" for h in self.heads
                          if not pd.isna(getattr(r, f"p_{h}")))]
        if reasons:
            lines.append("reasons: " + " ".join(reasons))
        if isinstance(r.source, str) and r.source:
            lines.append(f"source: {r.source}")
        buttons = []
        for t in reasons:
            if t in TARGETS:
                buttons += [(f"wrong: not {t}", {"target": t, "value": 0}), (f"right: {t}", {"target": t, "value": 1})]
        if kept_near in TARGETS:
            buttons += [(f"wrong: is {kept_near}", {"target": kept_near, "value": 1}),
                        (f"right: not {kept_near}", {"target": kept_near, "value": 0})]
        given = [f"reviewed: {'' if v.value else 'not '}{t}" for t in (*reasons, kept_near) if t
                 and (v := self.verdicts.get((r.md5, t))) is not None]
        actions = html.join([*(html.el("p", g, class_="meta") for g in given), html.verdicts(buttons)])
        return html.figure(path, f"#{r.id} {r.width}x{r.height}", self.thumb, lines=[x for x in lines if x],
                           tags=r.tags if isinstance(r.tags, str) else "", link=link, actions=actions,
                           data={"review": "label", "post_id": int(r.id), "md5": r.md5},
                           jpeg=self.previews.get(r.md5))


def _index(d: pd.DataFrame, heads: list[str], thresholds: Mapping[str, float], links: list[tuple[str, int, str]],
           pic: _Pictures, near_kept: int) -> str:
    counts = d["decision"].value_counts()
    decided = [(k, int(counts.get(k, 0))) for k in DECISIONS] + [
        (k, int(n)) for k, n in sorted(counts.items()) if k not in DECISIONS]
    rejected = d[d["decision"] == "reject"]
    also = pd.Series([r for rs in rejected["reasons"] for r in str(rs).split()], dtype=object).value_counts()
    reason_rows = [(html.link(page, reason), n, int(also.get(reason, 0))) for reason, n, page in links]
    sections = [("Decisions", html.table(["decision", "posts"], decided)),
                ("Rejections by reason", html.table(["first reason (pages)", "rejected", "reason applies"],
                                                    reason_rows) if links else html.el("p", "nothing rejected"))]
    scored = d[d["decision"].isin(["keep", "reject"])]
    for h in heads:
        col = f"p_{h}"
        for_h = (" " + rejected["reasons"].astype(str) + " ").str.contains(f" {h} ", regex=False)
        series = {"kept": scored.loc[scored["decision"] == "keep", col].tolist(),
                  f"rejected: {h}": rejected.loc[for_h, col].tolist(),
                  "rejected: other": rejected.loc[~for_h, col].tolist()}
        sections.append((f"Scores: {col}", html.histogram(series, {"threshold": thresholds[h]}, title=col)))
    per_head = max(1, near_kept // max(1, len(heads)))
    for h in heads:
        kept = scored[(scored["decision"] == "keep") & scored[f"p_{h}"].notna()]
        near = kept.assign(_m=(kept[f"p_{h}"] - thresholds[h]).abs()).sort_values(["_m", "id"], kind="stable")
        figs = [pic.figure(r, kept_near=h) for r in near.head(per_head).itertuples()]
        sections.append((f"Kept, nearest the {h} threshold ({thresholds[h]:g})",
                         html.row(figs) if figs else html.el("p", "none")))
    intro = (f"{len(d)} posts; {int(counts.get('reject', 0))} rejected. Each reason's pages list its rejections "
             "borderline first. Served by python -m pipeline.review, every picture has verdict buttons.")
    return html.page("Filter report", sections, intro)
