"""What a line-art run says at a glance: counts for metrics/lineart.json and reports/lineart/index.html.

The page shows colour | each variant's lines | the true lines (when the source is the sample booru) for a
sample of pictures, worst default-variant F1 first: the ``worst`` lowest, then ``spread`` more at evenly
spaced ranks up to the best. Without truth it shows the first pictures by post id.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipeline import report as html
from pipeline.lineart.config import LineartConfig
from pipeline.lineart.resize import geometry
from pipeline.lineart.truth import COVERAGE_LEVEL, TOLERANCE, summary, true_lines

THUMB = 256  # the training resolution's long side: lines are shown pixel for pixel


def metrics(pairs: pd.DataFrame, cfg: LineartConfig) -> dict:
    """Counts of a run (deterministic: no timings); ``truth`` is added by the stage when there is one."""
    posts = pairs.drop_duplicates("id")
    ok = posts["status"] == "ok"
    reasons = posts.loc[~ok, "reason"].value_counts().sort_index()
    return {"posts": int(len(posts)), "ok": int(ok.sum()), "failed": int((~ok).sum()),
            "reasons": {str(k): int(v) for k, v in reasons.items()},
            "pairs": int((pairs["status"] == "ok").sum()), "variants": len(cfg.variants),
            "long_side": cfg.resize.long_side, "multiple": cfg.resize.multiple}


def shown(scores: pd.DataFrame, pairs: pd.DataFrame, cfg: LineartConfig) -> list[int]:
    """Post ids to show: worst default F1 first, then evenly spaced ranks; the first ids without truth."""
    if not len(scores):
        return [int(i) for i in sorted(pairs.loc[pairs["status"] == "ok", "id"].unique())[:cfg.report.worst]]
    ranked = scores[scores["variant"] == cfg.default].sort_values(["f1", "id"], kind="stable")["id"].tolist()
    worst, rest = ranked[:cfg.report.worst], ranked[cfg.report.worst:]
    if rest and cfg.report.spread:
        picks = np.linspace(0, len(rest) - 1, min(cfg.report.spread, len(rest))).round().astype(int)
        worst += [rest[i] for i in sorted(set(picks.tolist()))]
    return [int(i) for i in worst]


def _png(mask: np.ndarray) -> io.BytesIO:
    buf = io.BytesIO()
    Image.fromarray(np.where(mask, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    buf.seek(0)
    return buf


def report(pairs: pd.DataFrame, scores: pd.DataFrame, out_dir: Path | str, cfg: LineartConfig,
           line_mask: Callable[[int], np.ndarray | None] | None) -> str:
    """The HTML page (``line_mask``: the corpus's true layer by post id, or None without truth)."""
    out_dir = Path(out_dir)
    ok = pairs[pairs["status"] == "ok"]
    f1 = {(r.id, r.variant): r.f1 for r in scores.itertuples()}
    body = []
    for post_id in shown(scores, pairs, cfg):
        group = ok[ok["id"] == post_id]
        first = group.iloc[0]
        figs = [html.figure(out_dir / first.color, f"#{post_id} colour {first.width}x{first.height}", THUMB)]
        for r in group.itertuples():
            score = f" F1 {f1[(post_id, r.variant)]:.3f}" if (post_id, r.variant) in f1 else ""
            figs.append(html.figure(out_dir / r.lines, f"{r.variant} ({r.method}){score}", THUMB))
        mask = line_mask(post_id) if line_mask is not None else None
        if mask is not None:
            g = geometry(int(first.source_width), int(first.source_height), cfg.resize)
            figs.append(html.figure(_png(true_lines(mask, g)), "true lines", THUMB))
        body.append(html.row(figs))
    sections = [("Pictures, worst F1 first" if len(scores) else "Pictures", html.join(body) if body else html.el("p", "no pairs"))]
    if len(scores):
        rows = []
        for variant, g in scores.groupby("variant", sort=False):
            s = summary(g)
            rows.append((variant, g["method"].iloc[0], s["precision"], s["recall"], s["f1"], s["pictures"]))
        sections.insert(0, ("Against the true lines", html.table(
            ["variant", "method", "precision", "recall", "F1", "pictures"], rows)))
    intro = (f"{pairs['id'].nunique()} kept posts, {len(cfg.variants)} variants, long side "
             f"{cfg.resize.long_side}, sides multiples of {cfg.resize.multiple} ({cfg.resize.fit}). True lines: "
             f"area-resampled mask, covered ≥ {COVERAGE_LEVEL}/255; {TOLERANCE}-pixel tolerance.")
    return html.page("Line art", sections, intro)
