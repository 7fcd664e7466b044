"""Two of the candidate paths beside the direct pHash search (the trimmed one reuses the direct search on
trimmed codes: ``cluster._trimmed_pairs``): mirrored copies, and cropped or bordered ones.

Both start from saved per-file data (``DEDUP_HASHES``), so a new threshold re-searches without decoding.

* ``mirror``: a copy flipped left to right is the direct search against the *mirrored* pHash (hashed from
  the mirrored normalised picture), judged like a direct pair with the mirrored dHash and the thumbnail
  flipped, and for a mostly plain picture inside the figures too (``figure_agrees``, as the direct path).
  Whether a mirror counts as a duplicate is a setting (``SearchParams.mirror``).
* ``window``: a crop of up to ~10 % a side, or a copy with a border or letterbox added, is a window of the
  other picture (``pipeline.dedup.windows``): each file's 16 window codes are searched against every
  file's whole-picture code within ``window_radius`` (``search.cross_pairs``), and a candidate is a
  duplicate when the two thumbnails, aligned at a uniform scale, correlate at ``min_aligned_corr`` and
  their strong gradients agree, with no side cut past ``max_cut`` (``window_pairs``).

Each returns candidate pairs in ``candidate_pairs``'s columns plus ``kind``, ``window_distance``,
``aligned_corr`` and ``figure_corr``; ``combine`` keeps one row per pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.dedup.config import SearchParams
from pipeline.dedup.hashing import THUMB_SIZE, corner_tolerant_correlation, thumb_correlation
from pipeline.dedup.search import cross_pairs, hamming
from pipeline.dedup.windows import ALIGN, MIN_CUT, WINDOWS, align, align_exact, figure_correlation, ring_grey
from pipeline.margins import TOLERANCE

KINDS = ("direct", "trimmed", "mirror", "window")  # the order in which one pair's rows are preferred


def mirror_pairs(phash: np.ndarray, dhash: np.ndarray, thumbs: np.ndarray, phash_m: np.ndarray,
                 dhash_m: np.ndarray, log_aspect: np.ndarray, params: SearchParams,
                 align_thumbs: np.ndarray | None = None) -> pd.DataFrame:
    """Pairs where unit b looks like unit a mirrored: a's mirrored pHash within ``phash_radius`` of b's."""
    qa, ib, dp = cross_pairs(phash_m, phash, params.phash_radius)
    keep = qa != ib  # a symmetric picture is its own mirror image
    a, b, dp = qa[keep], ib[keep], dp[keep]
    flipped = thumbs[a].reshape(len(a), THUMB_SIZE, THUMB_SIZE)[:, :, ::-1].reshape(len(a), THUMB_SIZE**2)
    dd = hamming(dhash_m[a], dhash[b])
    corr = thumb_correlation(flipped, thumbs[b])
    aspect = np.round(np.abs(log_aspect[a] - log_aspect[b]), 4)
    accepted = (dd <= params.dhash_radius) & (corr >= params.min_thumb_corr) & (aspect <= params.max_aspect_change)
    if align_thumbs is not None and accepted.any():
        at = align_thumbs[a[accepted]].reshape(-1, ALIGN, ALIGN)[:, :, ::-1].reshape(-1, ALIGN**2)
        accepted[accepted] = figure_agrees(at, align_thumbs[b[accepted]], params)
    return _frame(a, b, dp, dd, corr, aspect, accepted, "mirror", np.full(len(a), -1), np.full(len(a), np.nan))


def inner_pairs(units, params: SearchParams) -> pd.DataFrame:
    """Pairs where unit a's trimmed content looks like unit b's whole picture: a frame, letterbox or
    pillarbox added around b (trimming peels one layer of margin grey, so the content left is b itself,
    whatever plain background b has inside). ``units``: ``cluster._Units``. Judged like a direct pair, on
    a's trimmed codes against b's whole ones."""
    t = units.trimmed
    qa, b, dp = cross_pairs(units.trim_phash, units.phash, params.trim_radius)
    a, keep = t[qa], t[qa] != b
    qa, a, b, dp = qa[keep], a[keep], b[keep], dp[keep]
    dd = hamming(units.trim_dhash[qa], units.dhash[b])
    corr = corner_tolerant_correlation(units.trim_thumbs[qa], units.thumbs[b])
    aspect = np.round(np.abs(units.trim_log_aspect[qa] - units.log_aspect[b]), 4)
    accepted = (dd <= params.dhash_radius) & (corr >= params.min_thumb_corr) & (aspect <= params.max_aspect_change)
    return _frame(a, b, dp, dd, corr, aspect, accepted, "trimmed", np.full(len(a), -1), np.full(len(a), np.nan))


def window_pairs(units, params: SearchParams) -> pd.DataFrame:
    """Pairs where unit b's whole picture looks like a window of unit a (b a crop of a, or a b with a
    border). ``units``: ``cluster._Units`` (window codes, whole picture first; alignment thumbnails; sizes).

    Two alignments judge a candidate (``pipeline.dedup.windows``): where b fits inside a, the pixel-exact
    one (a crop or border resamples nothing, so the window is b's size in a's pixels), checked also inside
    the figures (``min_figure_corr``); and, unless either picture is mostly plain background, the free one
    (a crop also resized), which must agree at ``min_rescaled_agree``. The row kept is the one that
    accepts, else the pixel-exact one where it applies."""
    n, k = units.windows.shape[0], units.windows.shape[1] - 1
    thumbs = units.align_thumbs.reshape(n, ALIGN, ALIGN)
    qi, b, dw = cross_pairs(units.windows[:, 1:].ravel(), units.windows[:, 0], params.window_radius)
    a, win = qi // k, qi % k
    keep = a != b
    a, b, win, dw = a[keep], b[keep], win[keep], dw[keep]
    order = np.lexsort((win, dw, b, a))  # the nearest window of each (a, b)
    a, b, win, dw = a[order], b[order], win[order], dw[order]
    first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])] if len(a) else np.zeros(0, bool)
    a, b, win, dw = a[first], b[first], win[first], dw[first]
    if not len(a):
        return _frame(a, b, dw, dw, dw, dw, np.zeros(0, bool), "window", dw, dw)
    boxes = np.asarray(WINDOWS, np.float64)[win]
    frac = units.size[b] / units.size[a]  # b's width and height over a's
    fits = ((frac <= 1) & (frac >= 1 - 2 * params.max_cut)).all(axis=1)  # b inside a, no side cut past max_cut
    exact = np.full((len(a), 3), np.nan)  # corr, agreement, figure correlation
    ebox = boxes.copy()
    if fits.any():
        *scores, ebox[fits] = align_exact(thumbs[a[fits]], thumbs[b[fits]], boxes[fits], frac[fits, 0], frac[fits, 1])
        exact[fits] = np.stack(scores, axis=1)
    plain = flat_share(thumbs) > params.window_max_flat
    free = ~plain[a] & ~plain[b]
    scaled = np.full((len(a), 2), np.nan)
    fbox = boxes.copy()
    if free.any():
        ratio = np.exp(units.log_aspect[a[free]] - units.log_aspect[b[free]])  # (H_B / W_B) / (H_A / W_A)
        *scores, fbox[free] = align(thumbs[a[free]], thumbs[b[free]], boxes[free], ratio)
        scaled[free] = np.stack(scores, axis=1)

    def fair(box):  # no side of a cut past max_cut, and b overhanging a's edge no more than alignment noise
        return (np.round(box.max(axis=1), 4) <= params.max_cut) & (box.min(axis=1) >= MIN_CUT)
    ok_exact = (fits & (exact[:, 0] >= params.min_aligned_corr) & (exact[:, 1] >= params.min_aligned_agree)
                & (exact[:, 2] >= params.min_figure_corr) & fair(ebox))
    ok_free = (free & (scaled[:, 0] >= params.min_aligned_corr) & (scaled[:, 1] >= params.min_rescaled_agree)
               & fair(fbox))
    use = ok_exact | (fits & ~ok_free)
    corr = np.where(use, exact[:, 0], scaled[:, 0])
    agree = np.where(use, exact[:, 1], scaled[:, 1])
    box = np.where(use[:, None], ebox, fbox)
    return _frame(a, b, hamming(units.phash[a], units.phash[b]), np.full(len(a), -1), agree,
                  np.round(box.max(axis=1), 4), ok_exact | ok_free, "window", dw, corr, np.where(use, exact[:, 2], np.nan))


def figure_agrees(thumb_a: np.ndarray, thumb_b: np.ndarray, params: SearchParams) -> np.ndarray:
    """Per pair of (P, ALIGN**2) alignment thumbnails of the same framing: True unless either picture is
    mostly plain background (``window_max_flat``) and the two disagree inside the figures (the better of
    ``windows.figure_correlation`` and the same with one corner third left out, where a caption or logo
    may be stamped, under ``min_plain_figure_corr``). On a small figure on white the 12x12 thumbnails say
    where the figure is, not what it is: another character standing at the same place correlates at 0.98
    there, and at 0.09-0.78 inside the figures (held-out seed-1 corpus; re-uploads from 0.80)."""
    a = thumb_a.reshape(len(thumb_a), ALIGN, ALIGN).astype(np.float32)
    b = thumb_b.reshape(len(thumb_b), ALIGN, ALIGN).astype(np.float32)
    plain = np.maximum(flat_share(a), flat_share(b)) > params.window_max_flat
    ok = ~plain
    look = np.flatnonzero(plain)
    if len(look):
        a, b = a[look], b[look]
        best, bg = figure_correlation(a, b), ring_grey(b)[:, None, None]
        third, half = ALIGN // 3, ALIGN // 2
        for ys in (slice(0, third), slice(ALIGN - third, None)):
            for xs in (slice(0, half), slice(ALIGN - half, None)):
                ca, cb = a.copy(), b.copy()
                ca[:, ys, xs] = cb[:, ys, xs] = bg  # the corner as background
                best = np.maximum(best, figure_correlation(ca, cb))
        ok[look] = best >= params.min_plain_figure_corr
    return ok


def flat_share(thumbs: np.ndarray) -> np.ndarray:
    """Per (n, T, T) thumbnail: the share of its pixels within ``trim.TOLERANCE`` of its outer ring's median
    grey, i.e. how much of it is plain background. A mostly plain picture (a small figure on white) leaves
    the alignment too little to tell a crop from another figure: measured on a 3,000-post spec-6 corpus,
    false window matches at correlation >= 0.85 have a median share of 0.81, crops and borders 0.57."""
    t = thumbs.astype(np.int16)
    return (np.abs(t - ring_grey(t)[:, None, None]) <= TOLERANCE).mean(axis=(1, 2))


def _frame(a, b, dp, dd, corr, aspect, accepted, kind, dw, aligned, figure=np.nan) -> pd.DataFrame:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return pd.DataFrame({"a": lo.astype(np.int64), "b": hi.astype(np.int64), "phash_distance": dp.astype(np.int64),
                         "dhash_distance": np.asarray(dd, np.int64), "thumb_corr": np.asarray(corr, np.float64),
                         "aspect_change": np.asarray(aspect, np.float64), "accepted": np.asarray(accepted, bool),
                         "kind": kind, "window_distance": np.asarray(dw, np.int64),
                         "aligned_corr": np.asarray(aligned, np.float64),
                         "figure_corr": np.broadcast_to(np.asarray(figure, np.float64), lo.shape)})


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per unit pair: an accepted row before a rejected one, then by ``KINDS`` order."""
    df = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    rank = df["kind"].map({k: i for i, k in enumerate(KINDS)})
    df = df.assign(_r=rank).sort_values(["a", "b", "accepted", "_r"], ascending=[True, True, False, True],
                                        kind="stable")
    return df.drop_duplicates(["a", "b"]).drop(columns="_r").reset_index(drop=True)
