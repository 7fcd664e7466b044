"""The filter's next step, measured before it is built: each character's colours learnt from tags, and the
figure they find in any picture.

    .venv/bin/python -m benchmarks.filter_review --posts 4000 --rounds 0 --work DIR   # raw store + dedup
    .venv/bin/python -m benchmarks.filter_palette --work DIR [--ratio 30] [--per-round 25]

Why (README "Filter"): the simulated reviewer reaches 0.95 / 0.95 only with a score that measures the figure's
area to a log error of about 0.2, and the background's line density to about 0.1; the segmenter of
``benchmarks/filter_segment.py`` (shapes learnt from pasted cut-outs) stays near 0.7. A booru character is
drawn in the same colours in every picture, and its name, hair and eye tags say who is in a picture. So:

- **Profiles, from tags alone.** The colour pictures tagged ``white_background`` (not ``portrait``, not
  ``comic``) give their off-paper pixels; a tag's profile is the mean colour histogram (RGB at 3 bits a channel)
  of the pictures carrying it. An *appearance tag* has at least ``MIN_CUTOUTS`` such pictures and a profile at a
  total-variation distance of at least ``MIN_DISTANCE`` from all cut-outs' pooled profile (character names,
  hair and eye colours do; ``1girl`` or ``smile`` do not). The background profile pools the colour pictures
  tagged ``wide_shot`` on a simple or detailed background (their figures are a few percent of them).
- **The figure**, in a picture (256 px): pixels whose colour is ``--ratio`` times more likely under one of its
  appearance tags' profiles than under the background's, closed by 3 x 3 (the outlines between the parts), minus
  uniform margins (a re-upload's frame: ``pipeline.margins.content_box``). Its share is the ``small`` score.
- **The clutter**: the same mask kept only where a connected blob (dilated 5 x 5) holds at least ``NEED`` of a
  tag's ``TOP`` most frequent colours (a tree's green and brown alone is not the girl in green with brown
  hair), dilated, and outside it the ink coverage of the picture at the size it decodes to (512-1023 px): per
  pixel, how far it is from its 7 x 7 closing toward the corpus's ink, ``(closed - grey) / (closed - ink)``;
  a thin line's pixels keep their share of ink when the picture is scaled down.

Prints each score's Spearman with the truth (overall and within ``wide_shot`` / detailed backgrounds), the
spread of its log error, and the reviewer's rule replayed (``benchmarks.filter_scores.replay``), over the
colour illustrations the pixel rules keep (where these heads decide) and over all judged representatives
(pictures with no appearance tag, and the grey ones, score as "not small, not cluttered"); then one JSON line.
The truth is for measuring only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import replace
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.filter_scores import print_header, score_row  # noqa: E402
from benchmarks.filter_segment import decoded, picture_box  # noqa: E402
from pipeline.config import load_keys, load_truth_source  # noqa: E402
from pipeline.margins import content_box  # noqa: E402
from pipeline.filter.classifier import training_set  # noqa: E402
from pipeline.filter.config import ClassifierConfig, FilterConfig  # noqa: E402
from pipeline.filter.decide import PIXEL_REASONS, rule_reasons  # noqa: E402
from pipeline.filter.encode import encode_representatives, thumbs_of  # noqa: E402
from pipeline.filter.truth import truth_table  # noqa: E402
from pipeline.manifest import DEDUP, RAW_POSTS, read_manifest  # noqa: E402
from pipeline.samplebooru.corpus import Corpus  # noqa: E402

BITS = 3  # colour bins: 8 levels dropped a channel (JPEG noise and anti-aliasing stay in their bin)
BINS = (256 >> BITS) ** 3
SIZE = 256  # the pictures' long side for the masks
MIN_CUTOUTS, MIN_DISTANCE = 50, 0.34
TOP, NEED = 12, 3  # the clutter mask's blobs: at least NEED of a tag's TOP colours
INK_GREY = 0.299 * 28 + 0.587 * 22 + 0.114 * 34  # the corpus's ink (a real site: the darkest line tone)


def quantise(rgb: np.ndarray) -> np.ndarray:
    p = rgb.astype(np.int32) >> BITS
    n = 256 >> BITS
    return (p[..., 0] * n + p[..., 1]) * n + p[..., 2]


def histogram(bins: np.ndarray) -> np.ndarray:
    h = np.bincount(bins.ravel(), minlength=BINS).astype(np.float64)
    return h / max(1.0, h.sum())


def profiles(pics: list, tags: list[set], colour: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The appearance tags' colour profiles and the background profile (module docstring), tags only."""
    per_tag, n_tag = defaultdict(lambda: np.zeros(BINS)), defaultdict(int)
    pooled, background = np.zeros(BINS), np.zeros(BINS)
    for pic, t, c in zip(pics, tags, colour, strict=True):
        if not c or "comic" in t:
            continue
        if "white_background" in t and "portrait" not in t:
            off = np.abs(pic.astype(np.int16) - 255).max(axis=2) > 24
            if off.sum() > 20:
                h = histogram(quantise(pic[off]))
                pooled += h
                for tag in t:
                    per_tag[tag] += h
                    n_tag[tag] += 1
        if "wide_shot" in t and t & {"simple_background", "detailed_background"}:
            background += histogram(quantise(pic))
    pooled /= max(1.0, pooled.sum())
    out = {}
    for tag, h in per_tag.items():
        h = h / h.sum()
        if n_tag[tag] >= MIN_CUTOUTS and 0.5 * np.abs(h - pooled).sum() >= MIN_DISTANCE:
            out[tag] = h
    return out, background / max(1.0, background.sum())


def figure_mask(pic: np.ndarray, mine: list[np.ndarray], background: np.ndarray, ratio: float) -> np.ndarray:
    """uint8 mask of the pixels the post's appearance tags claim (module docstring)."""
    q = quantise(pic)
    likely = np.max([p[q] for p in mine], axis=0)
    m = (likely > ratio * (background[q] + 1e-6)).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    x0, y0, x1, y1 = content_box(cv2.cvtColor(pic, cv2.COLOR_RGB2GRAY))
    out = np.zeros_like(m)
    out[y0:y1, x0:x1] = m[y0:y1, x0:x1]
    return out


def scene_mask(pic: np.ndarray, mask: np.ndarray, mine: list[np.ndarray]) -> np.ndarray:
    """``mask`` kept only in the blobs that hold at least ``NEED`` of one tag's ``TOP`` colours."""
    q = quantise(pic)
    n, blobs = cv2.connectedComponents(cv2.dilate(mask, np.ones((5, 5), np.uint8)), connectivity=8)
    keep = np.zeros(n, bool)
    for p in mine:
        present = np.zeros((n, TOP), bool)
        for k, colour in enumerate(np.argsort(-p)[:TOP]):
            present[np.unique(blobs[q == colour]), k] = True
        keep |= present.sum(axis=1) >= NEED
    keep[0] = False
    return ((mask > 0) & keep[blobs]).astype(np.uint8)


def background_lines(item: tuple[str, np.ndarray | None], raw: str, max_pixels: int) -> float:
    """Ink coverage outside the dilated scene mask, at the size the file decodes to (module docstring)."""
    path, mask = item
    if mask is None or (rgb := decoded(raw, path, max_pixels)) is None:  # not measured: scores as not cluttered
        return float("nan")
    h, w = rgb.shape[:2]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    closed = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    cover = np.clip((closed - grey) / np.maximum(closed - INK_GREY, 20), 0, 1)
    cover[closed - grey < 25] = 0
    fig = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    k = max(3, 11 * max(h, w) // 512)
    out = cv2.dilate(fig, np.ones((k, k), np.uint8)) == 0
    return float(cover[out].sum() / max(1, int(out.sum())))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a filter_review --work folder (raw/, dedup/)")
    ap.add_argument("--ratio", type=float, default=30.0)
    ap.add_argument("--per-round", type=int, default=25)
    a = ap.parse_args()
    params = a.work / "params.yaml"
    cfg, fcfg = load_keys(params, "filter", ClassifierConfig), load_keys(params, "filter", FilterConfig)
    images = read_manifest(DEDUP.path(a.work / "dedup"), DEDUP)
    posts = read_manifest(RAW_POSTS.path(a.work / "raw"), RAW_POSTS)
    pixels = encode_representatives(images, a.work / "raw", a.work / f"cache{SIZE}",
                                    replace(cfg.encode, thumb=SIZE), cfg.train.threads)
    data = training_set(images, posts, pixels).merge(pixels.drop(columns=["thumb"]), on="md5")
    thumbs = thumbs_of(data, SIZE)  # training_set carries each picture's thumbnail
    pics = [thumbs[i][y:y + h, x:x + w] for i, (y, x, h, w) in
            enumerate(picture_box(w, h, SIZE) for w, h in zip(data["width"], data["height"], strict=True))]
    tags = [set(str(t).split()) for t in data["tags"]]
    colour = (data["colour"] > fcfg.rules.colour_max).to_numpy()
    prof, background = profiles(pics, tags, colour)
    print(f"{len(data)} pictures; appearance tags: {' '.join(sorted(prof))}", file=sys.stderr)
    figs, scenes = [], []
    for pic, t, c in zip(pics, tags, colour, strict=True):
        mine = [prof[x] for x in sorted(t & prof.keys())]
        fig = figure_mask(pic, mine, background, a.ratio) if c and mine else None
        figs.append(fig)
        scenes.append(None if fig is None else scene_mask(pic, fig, mine))
    with Pool(cfg.train.threads) as pool:
        lines = pool.map(partial(background_lines, raw=str(a.work / "raw"), max_pixels=cfg.encode.max_pixels),
                         list(zip(data["path"], scenes, strict=True)), chunksize=32)
    share = np.array([np.nan if f is None else f.mean() for f in figs])
    kept = np.array([not set(rule_reasons(r, fcfg.rules)) & set(PIXEL_REASONS)
                     for r in data.to_dict("records")])
    return report(data["id"], share, np.array(lines), kept, params, fcfg, a.per_round)


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
