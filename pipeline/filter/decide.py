"""Decisions: saved pixel rows + classifier scores + human verdicts -> one FILTER row per dedup row.

Every reason that applies is recorded (``reasons``); ``reason`` is the first in ``REASONS`` order, the
file's own problems before the picture's. A human verdict on a (picture, reason) overrides what the rule
or the classifier said for that reason: ``small=0`` keeps a picture the classifier called small, and the
next run still keeps it. Non-representatives point to their cluster (``cluster``) and say why they are
not decided themselves (duplicate, unreadable, not_fetched): nothing disappears.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.filter.config import RulesParams
from pipeline.filter.scoring import MEASURED
from pipeline.labels import Label

FILE_REASONS = ("unreadable", "too_many_pixels", "resolution", "aspect", "animated")
PIXEL_REASONS = ("greyscale", "monochrome", "lineart", "comic")
HEAD_REASONS = ("small", "clutter")
REASONS = FILE_REASONS + PIXEL_REASONS + HEAD_REASONS


def rule_reasons(px: Mapping, rules: RulesParams) -> list[str]:
    """The file and pixel reasons of one FILTER_PIXELS row (a failed row: its decode reason; a picture
    under ``min_side``: only ``resolution``, its few pixels say nothing of tones or panels)."""
    if px["status"] != "ok":
        return ["too_many_pixels" if px["reason"] == "too_many_pixels" else "unreadable"]
    out = []
    w, h = int(px["width"]), int(px["height"])
    if min(w, h) < rules.min_side:
        return ["resolution"]  # too few pixels to judge their tones or panels
    if max(w, h) > rules.max_aspect * max(1, min(w, h)):
        out.append("aspect")
    if rules.animated and int(px["frames"]) > 1:
        out.append("animated")
    if px["colour"] <= rules.colour_max:
        if px["fill"] < rules.fill_min:
            out.append("lineart")
        elif px["off_level_fill"] < rules.off_level_min:
            out.append("monochrome")
        else:
            out.append("greyscale")
    if px["panels"] >= rules.comic_panels and px["panel_cover"] >= rules.comic_cover:
        out.append("comic")
    return out


def decide(images: pd.DataFrame, pixels: pd.DataFrame, scores: pd.DataFrame, thresholds: Mapping[str, float],
           rules: RulesParams, verdicts: Mapping[tuple[str, str], Label]) -> pd.DataFrame:
    """FILTER rows: ``images`` (DEDUP), ``pixels`` (FILTER_PIXELS of the representatives), ``scores``
    (md5, p_small, p_clutter, figure, background_ink, line_figure, line_ink: ``Scoring.probabilities``), a
    threshold per head, and the human verdicts in force ((md5, target) ->)."""
    blobs = ("thumb", "preview", "palette", "ink_map")
    px = pixels.drop(columns=[c for c in blobs if c in pixels]).set_index("md5").to_dict("index")
    sc = scores.set_index("md5").to_dict("index")
    by_md5: dict[str, dict[str, int]] = {}
    for (md5, target), lab in verdicts.items():
        by_md5.setdefault(md5, {})[target] = lab.value
    rows = []
    for r in images.itertuples(index=False):
        base = {"id": r.id, "md5": r.md5, "path": r.path, "cluster": r.cluster, "representative": bool(r.keep),
                "width": r.width, "height": r.height, "decoded_as": None, "p_small": np.nan,
                "p_clutter": np.nan, **dict.fromkeys(MEASURED, np.nan), "verdicts": ""}
        if r.status != "ok" or not r.keep:
            decision = "duplicate" if r.status == "ok" else r.status
            rows.append(base | {"decision": decision, "keep": False, "reasons": "",
                                "reason": "" if decision == "duplicate" else (r.reason or decision)})
            continue
        p = px[r.md5]
        reasons = set(rule_reasons(p, rules))
        base |= {"width": int(p["width"]) or r.width, "height": int(p["height"]) or r.height,
                 "decoded_as": p["decoded_as"]}
        if r.md5 in sc:
            base |= {k: sc[r.md5][k] for k in MEASURED}
            for head in HEAD_REASONS:
                score = float(sc[r.md5][f"p_{head}"])
                base[f"p_{head}"] = score
                if score >= thresholds[head]:
                    reasons.add(head)
        mine = by_md5.get(r.md5, {})
        for target, value in mine.items():  # a person's word beats the rule and the classifier
            (reasons.add if value else reasons.discard)(target)
        base["verdicts"] = " ".join(f"{t}={v}" for t, v in sorted(mine.items()))
        ordered = [x for x in REASONS if x in reasons]
        rows.append(base | {"decision": "reject" if ordered else "keep", "keep": not ordered,
                            "reason": ordered[0] if ordered else "", "reasons": " ".join(sorted(ordered))})
    return pd.DataFrame(rows)
