"""How exactly the filter's palette measures the figure and the background's ink (``pipeline.filter.palette``).

    .venv/bin/python -m benchmarks.filter_review --posts 4000 --rounds 0 --work DIR   # raw store + dedup
    .venv/bin/python -m benchmarks.filter_palette --work DIR [--ratio 30] [--per-round 25]

Why (README "Filter"): the simulated reviewer reaches 0.95 / 0.95 only with a score that measures the figure's
area to a log error of about 0.2, and the background's line density to about 0.1. This learns the palette
from the work folder's tags with its params (``--ratio`` and the others overridable), measures every
decodable representative from the saved maps (``data/cache/filter``'s encoding, reused), and prints each
measure's Spearman with the truth (overall and within ``wide_shot`` / detailed backgrounds), the spread of
its log error, and the reviewer's rule replayed on it (``benchmarks.filter_scores.replay``: the pictures
nearest a moving cut, per head), over the colour pictures the pixel rules keep (where these heads decide) and
over all judged representatives (an unmeasured picture scores as "not small, not cluttered"); then one JSON
line. The truth is for measuring only: the palette sees tags.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.filter_scores import print_header, score_row  # noqa: E402
from pipeline.config import load_keys, load_truth_source  # noqa: E402
from pipeline.filter.classifier import training_set  # noqa: E402
from pipeline.filter.config import ClassifierConfig, FilterConfig  # noqa: E402
from pipeline.filter.decide import PIXEL_REASONS, rule_reasons  # noqa: E402
from pipeline.filter.encode import encode_representatives  # noqa: E402
from pipeline.filter.maps import unpack  # noqa: E402
from pipeline.filter.palette import learn  # noqa: E402
from pipeline.filter.scoring import palette_rows  # noqa: E402
from pipeline.filter.truth import truth_table  # noqa: E402
from pipeline.manifest import DEDUP, RAW_POSTS, read_manifest  # noqa: E402
from pipeline.samplebooru.corpus import Corpus  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a filter_review --work folder (raw/, dedup/)")
    ap.add_argument("--ratio", type=float, default=None, help="filter.palette.ratio (default: the params')")
    ap.add_argument("--per-round", type=int, default=25)
    a = ap.parse_args()
    params = a.work / "params.yaml"
    cfg, fcfg = load_keys(params, "filter", ClassifierConfig), load_keys(params, "filter", FilterConfig)
    palette_cfg = replace(cfg.palette, ratio=a.ratio) if a.ratio else cfg.palette
    images = read_manifest(DEDUP.path(a.work / "dedup"), DEDUP)
    posts = read_manifest(RAW_POSTS.path(a.work / "raw"), RAW_POSTS)
    pixels = encode_representatives(images, a.work / "raw", a.work / "cache", cfg.encode, cfg.train.threads)
    shared = ["thumb", "palette", "ink_map", "status", "colour", "panels", "panel_cover"]  # training_set has them
    data = training_set(images, posts, pixels).merge(pixels.drop(columns=shared), on="md5")
    tags = [set(str(t).split()) for t in data["tags"].fillna("")]
    palette = learn([None if b is None else unpack(b) for b in data["palette"]], tags, data["colour"].to_numpy(),
                    palette_cfg)
    print(f"{len(data)} pictures; appearance tags: {' '.join(sorted(palette.profiles))}", file=sys.stderr)
    measured, _ = palette_rows(data, dict(zip(data["md5"], tags, strict=True)), palette, cfg.train.threads)
    kept = np.array([not set(rule_reasons(r, fcfg.rules)) & set(PIXEL_REASONS)
                     for r in data.drop(columns=["preview"]).to_dict("records")])
    return report(data["id"], measured["figure"].to_numpy(), measured["background_ink"].to_numpy(), kept, params,
                  fcfg, a.per_round)


def report(ids, share: np.ndarray, lines: np.ndarray, kept: np.ndarray, params: Path, fcfg: FilterConfig,
           per_round: int) -> int:
    source = load_truth_source(params)
    corpus = Corpus(source.posts, seed=source.seed)
    truth = truth_table(ids, corpus.truth, fcfg.truth)
    known = [corpus.truth(int(i)) for i in ids]
    area, clutter = np.array([t.char_area for t in known]), np.array([t.clutter for t in known])
    density = -0.05 * np.log1p(-np.minimum(clutter, 1 - 1e-9))  # the corpus's CLUTTER_SCALE undone
    wide, detailed = (np.array([t.framing == "wide_shot" for t in known]),
                      np.array([t.background == "detailed" for t in known]))
    unmeasured = np.isnan(share)
    share, lines = np.where(unmeasured, 1.0, share), np.nan_to_num(lines)
    out = {"pictures": len(ids), "kept_by_pixel_rules": int(kept.sum()), "unmeasured": int(unmeasured.sum())}
    for name, sel in (("kept", kept), ("all", np.ones(len(ids), bool))):
        near = sel & ~unmeasured & (area > 0) & (area < 0.05)
        busy = sel & ~unmeasured & (density > 0.01) & (density < 0.2)
        out[name] = {"share_log_error_sd": round(float(np.std(np.log(share[near] + 1e-4) - np.log(area[near]))), 3),
                     "lines_log_error_sd": round(float(np.std(np.log(lines[busy] + 1e-5) - np.log(density[busy]))), 3)}
        print(f"\n{name} ({int(sel.sum())} pictures): log error spread of the figure share "
              f"{out[name]['share_log_error_sd']} (figures under 5%), of the line density "
              f"{out[name]['lines_log_error_sd']} (densities 0.01-0.2)")
        print_header(4, per_round)
        t = truth[sel]
        out[name]["small"] = score_row("small", "figure share", -np.log(share[sel] + 1e-4), -area[sel], wide[sel],
                                       t["small"], 4, per_round)
        out[name]["clutter"] = score_row("clutter", "background ink", lines[sel], clutter[sel], detailed[sel],
                                         t["clutter"], 4, per_round)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
