"""Crop-tolerant matching: window codes to find a cropped or bordered copy, thumbnail alignment to check it.

A re-upload cropped by up to 10 % a side (or with a border of up to 10 % added, which is the same pair
seen the other way) is 11-24 pHash bits from its original: past any radius that keeps different pictures
apart. But the crop *is* a window of the original. So every file also gets the codes of ``WINDOWS``: 16
sub-windows, each side cut by 2 % or 8 % (4 choices per axis, both axes), which leave any crop of 0-11 %
a side within 3 % a side of one of them. Over 150 random asymmetric crops of sample pictures the full code
of the crop lies within 8 bits of its original's nearest window code (median 4), while a parent/child
variant stays 18 bits or more from every window of its parent (measured with ``benchmarks/dedup.py``).

The codes are a pHash computed the same way for the whole picture and for each window (area resampling
of the 64x64 normalised picture to 32x32, a DCT, the signs of the 8x8 lowest frequencies against their
median), so they compare with each other and not with imagehash's pHash, which stays the direct path's.

A window match is a candidate, not a verdict: the ``ALIGN`` x ``ALIGN`` thumbnails are aligned and the
pair is a duplicate when they agree there. ``align_exact`` (b fits inside a): the window has b's size in
a's pixels, since a crop or a border changes no pixel's size, and only its left and top edges move while
the correlation rises; the pair must then correlate, agree in the sign of its strong gradients and, on a
small figure on white, correlate inside the figures (``figure_correlation``). ``align`` (a crop that was
also resized): the width moves too, at a uniform scale. A variant of the same characters in another pose
aligns badly wherever it starts.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.fft import dct

NORM = 64  # the normalised picture (hashing.NORM_SIZE) the codes are computed from
ALIGN = 48  # side of the thumbnail kept for alignment
_AXIS = ((0.02, 0.02), (0.08, 0.02), (0.02, 0.08), (0.08, 0.08))  # (first, last) side cut per axis
# (left, right, top, bottom) fractions cut; code 0 of a file is the whole picture, codes 1..16 these windows
WINDOWS = tuple((x[0], x[1], y[0], y[1]) for y in _AXIS for x in _AXIS)
N_CODES = 1 + len(WINDOWS)


def area_matrix(lo: float, hi: float, n_out: int = 32, n_in: int = NORM) -> np.ndarray:
    """Rows: each of ``n_out`` output samples as the area-weighted mean of the inputs over [lo, hi] (fractions)."""
    edges = np.linspace(lo * n_in, hi * n_in, n_out + 1)
    left, right = edges[:-1, None], edges[1:, None]
    j = np.arange(n_in)[None, :]
    w = np.clip(np.minimum(right, j + 1) - np.maximum(left, j), 0, None)
    return w / w.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=512)
def lanczos_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Pillow's Lanczos resampling of ``n_in`` samples to ``n_out`` as a matrix (its kernel, support and
    centres; applied across, rounded, then down, rounded, as Pillow's two passes): the dHash's 9x8 picture
    (``hashing``) in a tenth of the time of ``Image.resize``. Over 300 sample pictures 2 of 21,600 samples differ by one
    grey level from Pillow's and no dHash bit."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo, hi = max(int(centre - 3 * stretch + 0.5), 0), min(int(centre + 3 * stretch + 0.5), n_in)
        x = (np.arange(lo, hi) - centre + 0.5) / stretch
        k = np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
        w[i, lo:hi] = k / k.sum()
    return w


_D8 = dct(np.eye(32), axis=0, norm="ortho")[:8]  # the 8 lowest DCT-II basis rows of a 32-sample signal
_FULL = _D8 @ area_matrix(0.0, 1.0)
# 5 x 8 rows, the same for either axis: the whole side, then each cut of _AXIS
_AXES = np.concatenate([_FULL] + [_D8 @ area_matrix(a, 1 - b) for a, b in _AXIS])


def _bits(coef: np.ndarray) -> np.ndarray:
    """(k, 8, 8) low-frequency blocks as unsigned 64-bit codes: each coefficient above its block's median."""
    flat = coef.reshape(len(coef), 64)
    med = np.partition(flat, (31, 32), axis=1)[:, 31:33].mean(axis=1, keepdims=True)  # the median of 64
    bits = flat > med
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


_PICK = np.array([(0, 0)] + [(1 + yi, 1 + xi) for yi in range(4) for xi in range(4)])


def window_codes(norm: np.ndarray) -> np.ndarray:
    """The ``N_CODES`` codes of a ``NORM`` x ``NORM`` greyscale picture: whole picture first, then ``WINDOWS``."""
    g = np.asarray(norm, np.float64)
    blocks = (_AXES @ g @ _AXES.T).reshape(5, 8, 5, 8)  # (vertical choice, row freq, horizontal choice, col freq)
    return _bits(blocks[_PICK[:, 0], :, _PICK[:, 1], :])


def _sample(thumbs: np.ndarray, lo: np.ndarray, hi: np.ndarray, grid: int, axis: int) -> np.ndarray:
    """Linear interpolation of ``thumbs`` (P, R, C) along ``axis`` (1 rows, 2 columns) at ``grid`` points
    spread over [lo, hi] (fractions, per pair). Whole rows are gathered with one ``np.take`` (4x faster
    than ``take_along_axis``); columns as the rows of the transposed pictures."""
    if axis == 2:
        return _sample(thumbs.transpose(0, 2, 1), lo, hi, grid, 1).transpose(0, 2, 1)
    p, t, width = thumbs.shape
    pos = lo[:, None] + (np.arange(grid) + 0.5)[None, :] / grid * (hi - lo)[:, None]
    x = np.clip(pos * t - 0.5, 0, t - 1)
    i0 = np.minimum(x.astype(np.int64), t - 2)
    f = (x - i0).astype(np.float32)[:, :, None]
    rows = np.ascontiguousarray(thumbs).reshape(p * t, width)
    at = (i0 + (np.arange(p) * t)[:, None]).ravel()
    a = np.take(rows, at, axis=0).reshape(p, grid, width)
    b = np.take(rows, at + 1, axis=0).reshape(p, grid, width)
    return a * (1 - f) + b * f


def _window(thumbs: np.ndarray, box: np.ndarray, grid: int) -> np.ndarray:
    rows = _sample(thumbs, box[:, 2], 1 - box[:, 3], grid, axis=1)
    return _sample(rows, box[:, 0], 1 - box[:, 1], grid, axis=2)


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(axis=1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(den > 1e-6, (a * b).sum(axis=1) / np.maximum(den, 1e-6), 0.0)


# coarse to fine: each pass moves every side by the best of its steps (fractions of the picture)
MIN_CUT = -0.02  # B may overhang A's edge this much (alignment noise), no more
PASSES = ((0.04, 0.02), (0.02, 0.01), (0.01, 0.005), (0.005, 0.0025))


def _box(left: np.ndarray, top: np.ndarray, width: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """(left, right, top, bottom) cuts of a window ``width`` wide (fraction of A's width) and as tall as a
    uniform scale allows: ``ratio`` is B's height / width over A's, in A's fractions."""
    height = width * ratio
    return np.stack([left, 1 - left - width, top, 1 - top - height], axis=1)


def _ascend(ta: np.ndarray, sb: np.ndarray, params: np.ndarray, ratio: np.ndarray, free: int, grid: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate ascent, coarse to fine (``PASSES``), of the first ``free`` of (left, top, width) while the
    correlation of A's window with B's samples ``sb`` rises; the best correlation and parameters. Moving
    the left (top) edge alone leaves the rows (columns) sampled as they were: sampled once per step."""
    params = params.copy()
    best = _corr(_window(ta, _box(*params.T, ratio), grid), sb)
    for steps in PASSES:
        for k in range(free):
            base = params.copy()
            box = _box(*base.T, ratio)
            if k == 0:  # (left, right, top, bottom) cuts: the rows stay
                part = _sample(ta, box[:, 2], 1 - box[:, 3], grid, axis=1)
            elif k == 1:  # the columns stay
                part = _sample(ta, box[:, 0], 1 - box[:, 1], grid, axis=2)
            for step in (*steps, *(-s for s in steps)):
                trial = base.copy()
                trial[:, k] = base[:, k] + step
                t = _box(*trial.T, ratio)
                if k == 0:
                    win = _sample(part, t[:, 0], 1 - t[:, 1], grid, axis=2)
                elif k == 1:
                    win = _sample(part, t[:, 2], 1 - t[:, 3], grid, axis=1)
                else:
                    win = _window(ta, t, grid)
                c = _corr(win, sb)
                better = c > best
                best = np.where(better, c, best)
                params[better] = trial[better]
    return best, params


def align(thumb_a: np.ndarray, thumb_b: np.ndarray, box: np.ndarray, ratio: np.ndarray, grid: int = 36
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pairs where B looks like the window ``box`` (P, 4: left, right, top, bottom cut) of A, at a scale
    the files' sizes do not tell (a crop that was also resized): the correlation of B with A's window where
    it best aligns them, their ``gradient_agreement`` there, and that window. The window keeps B's shape at
    a uniform scale (a crop or a border stretches neither axis; three degrees of freedom, not four, so two
    different figures cannot be stretched onto each other): ``ratio`` is ``(H_B / W_B) / (H_A / W_A)``.
    Left edge, top edge and width move in ``PASSES``. Thumbnails are (P, ALIGN, ALIGN) uint8."""
    ta, tb = thumb_a.astype(np.float32), thumb_b.astype(np.float32)
    box = np.asarray(box, np.float64)
    start = np.stack([box[:, 0], box[:, 2], 1 - box[:, 0] - box[:, 1]], axis=1)  # left, top, width
    sb = _window(tb, np.zeros_like(box), grid)
    best, params = _ascend(ta, sb, start, np.asarray(ratio, np.float64), 3, grid)
    box = _box(*params.T, ratio)
    return np.round(best, 4), np.round(gradient_agreement(_window(ta, box, grid), sb), 4), box


def align_exact(thumb_a: np.ndarray, thumb_b: np.ndarray, box: np.ndarray, width: np.ndarray, height: np.ndarray,
                grid: int = 36) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``align`` for a crop or a border that resampled nothing: B's pixels are A's, so the window is
    ``width`` x ``height`` of A (B's size over A's, each at most 1) and only its left and top edges move,
    from the matched window ``box`` and from the centre (the better of the two). Two degrees of freedom:
    on a small figure on white, a different figure cannot be scaled onto the one in the crop (on spec-6
    corpora the free alignment's false window pairs are 1.4-2.4x off this scale). Also returns
    ``figure_correlation`` there, which tells a figure from another where the background dominates."""
    ta, tb = thumb_a.astype(np.float32), thumb_b.astype(np.float32)
    box = np.asarray(box, np.float64)
    width, height = np.asarray(width, np.float64), np.asarray(height, np.float64)
    ratio = height / width
    sb = _window(tb, np.zeros_like(box), grid)
    best, params = None, None
    for left, top in ((box[:, 0], box[:, 2]), ((1 - width) / 2, (1 - height) / 2)):
        c, p = _ascend(ta, sb, np.stack([np.clip(left, 0, 1 - width), np.clip(top, 0, 1 - height), width], axis=1),
                       ratio, 2, grid)
        if best is None:
            best, params = c, p
        else:
            params = np.where((c > best)[:, None], p, params)
            best = np.maximum(best, c)
    box = _box(*params.T, ratio)
    sa = _window(ta, box, grid)
    return np.round(best, 4), np.round(gradient_agreement(sa, sb), 4), np.round(figure_correlation(sa, sb), 4), box


def figure_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair of aligned (P, G, G) samples: their correlation over the samples where either differs from
    B's background (the median of its outer ring) by more than ``trim.TOLERANCE``. On a mostly plain
    picture the whole-picture correlation says where the figure is, not what it is: two different small
    figures on white at the same place correlate at 0.9 and more, but inside the figures only at 0.74-0.86
    (spec-6 corpus), a crop at 0.90 and more. Two pictures with no figure at all (both plain) agree: 1."""
    bg = ring_grey(b)[:, None, None]
    mask = (np.abs(a - bg) > FIGURE_TOLERANCE) | (np.abs(b - bg) > FIGURE_TOLERANCE)
    n = np.maximum(mask.sum(axis=(1, 2)), 1)
    da = (a - ((a * mask).sum(axis=(1, 2)) / n)[:, None, None]) * mask
    db = (b - ((b * mask).sum(axis=(1, 2)) / n)[:, None, None]) * mask
    den = np.sqrt((da * da).sum(axis=(1, 2)) * (db * db).sum(axis=(1, 2)))
    corr = np.where(den > 1e-6, (da * db).sum(axis=(1, 2)) / np.maximum(den, 1e-6), 0.0)
    return np.where(mask.any(axis=(1, 2)), corr, 1.0)


def ring_grey(thumbs: np.ndarray) -> np.ndarray:
    """Per (P, T, T) thumbnail: the median grey of its outer ring, taken for its background."""
    t = thumbs
    return np.median(np.concatenate([t[:, 0, :], t[:, -1, :], t[:, :, 0], t[:, :, -1]], axis=1), axis=1)


FIGURE_TOLERANCE = 12  # grey levels from the background: trim.TOLERANCE (JPEG noise around a flat colour)


def agree_in_place(thumb_a: np.ndarray, thumb_b: np.ndarray, min_corr: float, min_agree: float) -> np.ndarray:
    """Per pair of (P, ALIGN**2) uint8 thumbnails of the same framing: whether they correlate at
    ``min_corr`` and their strong gradients agree at ``min_agree``, as they are (no alignment). The
    direct path's second look: on a mostly plain picture a stamped logo or caption moves the 12x12
    thumbnail's correlation below its bar (0.92-0.94 on spec-6 overlays, the same as different small
    figures with close hashes), while the 48x48 outlines still agree (0.82-0.87 against 0.54 at most)."""
    a = thumb_a.reshape(len(thumb_a), ALIGN, ALIGN).astype(np.float32)
    b = thumb_b.reshape(len(thumb_b), ALIGN, ALIGN).astype(np.float32)
    return (_corr(a, b) >= min_corr) & (gradient_agreement(a, b) >= min_agree)


GRADIENT_MIN = 8.0  # grey levels between neighbouring samples: a gradient worth comparing


def gradient_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair of aligned (P, G, G) samples: the share of strong neighbour differences (in either picture)
    whose signs agree. A crop agrees on the outlines (median 0.83 over the spec-6 corpus's crops and
    borders); two different figures that correlate as blobs do not (median 0.57)."""
    def grads(x):
        return np.concatenate([np.diff(x, axis=1)[:, :, :-1].reshape(len(x), -1),
                               np.diff(x, axis=2)[:, :-1, :].reshape(len(x), -1)], axis=1)
    ga, gb = grads(a), grads(b)
    strong = (np.abs(ga) > GRADIENT_MIN) | (np.abs(gb) > GRADIENT_MIN)
    return ((np.sign(ga) == np.sign(gb)) & strong).sum(axis=1) / np.maximum(strong.sum(axis=1), 1)
