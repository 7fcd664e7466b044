"""Each character's colours, learnt from tags: the figure they find in a picture and the ink around it.

Why (README "Filter"): "too small" and "too cluttered" are a figure's share of the picture and the line
density of what is not the figure, and a thumbnail CNN trained on framing tags ranks neither *within* a tag
(``wide_shot`` spans 0.3% to 7%). A booru character is drawn in the same colours in every picture, and the
name, hair and eye tags say who is in one, so (``benchmarks/filter_palette.py`` measured each choice):

- **Encoding** (``pipeline.filter.maps``): each picture's colour-bin and ink maps, made once per file.
- **Learning** (``learn``, tags only): the colour pictures tagged with a cut-out tag (``white_background``)
  and none of the excluded ones give their off-paper pixels; a tag's profile is the mean colour histogram of
  the pictures carrying it. An *appearance tag* has at least ``min_cutouts`` of them and a profile at a
  total-variation distance of at least ``min_distance`` from their pooled profile (names, hair and eye
  colours; not ``1girl`` or ``smile``). The background profile pools the colour pictures with a background
  tag (``wide_shot`` on a simple or detailed background: their figures are a few percent of them).
- **Measuring** (``Palette.measure``): the figure is the pixels ``ratio`` times likelier under one of the
  post's appearance profiles than under the background's, closed 3 x 3 (the outlines between the parts),
  kept in the blobs that hold at least ``need`` of one tag's ``top`` colours (a tree's green and brown is
  not the girl in green with brown hair) and at least ``major`` of the largest such blob (a doll or a flag
  in her colours, away from her, is background). The ``small`` measure is the share of the picture those
  blobs and the inked pixels about them cover, with what they enclose (``_outlined``: her lines are
  hers; ``_whole``: so is her white dress). The ``clutter``
  measure is the mean ink outside those blobs, their holes filled (an apron in a colour of no profile, and
  the lines in it, are hers), dilated by about 11 px at 512. On a page of bordered panels (a comic page) the line pixels
  are left out of those blobs, and so is all outside the panels' insides: its panel borders, gutters and
  balloons are background, not figure (``_insides``).

A picture with no colour or no appearance tag is not measured (``None``): its figure and clutter are read
from its ink map alone, by a network that learnt the palette's figures (``pipeline.filter.lines``).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import cv2
import numpy as np

BITS = 3  # colour bins: 3 bits a channel dropped, 32 levels kept
LEVELS = 256 >> BITS
BINS = LEVELS ** 3
PAPER = 24  # a cut-out's pixel is off the paper when a channel is further than this from white
DILATE = 5  # the figure's margin on the map (about 11 px at 512): its own outline is not background ink
OUTLINE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # a figure's lines: 2 px of the map about it
INK_EDGE = 16  # ink map level (of 255) above which a pixel next to the figure is its line (``_outlined``)
LINE = 32  # ink map level (of 255) from which a panelled page's pixel is a drawn line, never the figure
DARK = 140 >> BITS  # colour levels under which every channel of a pixel is dark (the pixel rules' grey < 140)
PANEL_AREA, PANEL_FILL, PANEL_RIM = 0.03, 0.9, 3  # a panel on the maps (``_insides``): its share of the page,
# of its bounding box, and the pixels in from its border where a figure may begin


@dataclass(frozen=True)
class PaletteParams:
    """params.yaml ``filter.palette`` (module docstring)."""

    min_colour: float  # pictures with more than this share of coloured pixels are the colour ones
    cutout_tags: tuple[str, ...]  # a figure on plain paper: its off-paper pixels are the figure's
    background_tags: tuple[str, ...]  # a wide shot ...
    scenery_tags: tuple[str, ...]  # ... on one of these backgrounds: mostly background pixels
    exclude_tags: tuple[str, ...]  # never a cut-out (a portrait's paper is its background; a comic's panels)
    min_cutouts: int
    min_distance: float
    ratio: float
    top: int
    need: int
    major: float  # ... and holding at least this share of the largest such blob's pixels
    panels: int  # a page with at least this many bordered panels (encoding's count) ...
    panel_cover: float  # ... covering this share of it has drawn panel borders (``Palette.measure``)


def quantise(levels: np.ndarray) -> np.ndarray:
    """(..., 3) levels (0..LEVELS-1, a colour map's pixels) -> (...) bin index, ``(r * 32 + g) * 32 + b``."""
    p = levels.astype(np.uint16)
    return (p[..., 0] << 10) | (p[..., 1] << 5) | p[..., 2]


def histogram(bins: np.ndarray) -> np.ndarray:
    h = np.bincount(bins.ravel(), minlength=BINS).astype(np.float64)
    return h / max(1.0, h.sum())


@dataclass(frozen=True)
class Palette:
    """The appearance tags' profiles and the background profile, with what ``measure`` needs."""

    profiles: dict[str, np.ndarray]
    background: np.ndarray
    params: PaletteParams

    def measure(self, colours: np.ndarray, ink: np.ndarray, tags: Iterable[str], panelled: bool = False
                ) -> tuple[float, float] | None:
        """(figure share, mean ink outside the figure) of one picture's maps, or None when not measurable.

        On a panelled page (``panelled``: bordered panels cover it, a comic page) the figure's blobs keep
        no line pixel before their margin is added: the panel borders and speech balloons are drawn in the same dark ink as the characters'
        outlines and hair, touch them, and would otherwise join the figure and leave the page's background
        ink at a third of what it is (Spearman 0.575 against the truth's clutter on 143 comic pages of the
        4,000 posts; 0.875 without them). A single illustration keeps its outlines: on it the same rule
        counts a figure's inner lines as background (0.965 -> 0.80). Nor do they keep anything outside the
        panels' insides (``_insides``: the gutters and borders, in her colours too)."""
        found = self._figure(colours, tags)
        if found is None:
            return None
        fig, blobs = found
        figure = _hers(fig, blobs, ink)
        share = cv2.countNonZero(figure) / figure.size
        if panelled:
            blobs &= (ink < LINE).view(np.uint8) & _insides(colours, ink)
        blobs = _filled(blobs)
        out = cv2.compare(cv2.dilate(blobs, np.ones((DILATE, DILATE), np.uint8)), 0, cv2.CMP_EQ)  # 255: scene
        outside = cv2.sumElems(cv2.bitwise_and(ink, out))[0]  # exact: integers in a double
        return share, outside / 255.0 / max(1, cv2.countNonZero(out))

    def can_measure(self, tags: Iterable[str]) -> bool:
        """Whether ``measure`` measures a colour picture with these tags: one of them is an appearance tag."""
        return not self.profiles.keys().isdisjoint(tags)

    def figure(self, colours: np.ndarray, ink: np.ndarray, tags: Iterable[str]) -> np.ndarray | None:
        """The figure whose share is the ``small`` measure (uint8 0/1 on the maps' grid), or None when not
        measurable: what the line figure network learns to find in the ink map alone (``pipeline.filter.lines``)."""
        found = self._figure(colours, tags)
        if found is None:
            return None
        return _hers(*found, ink)

    def _figure(self, colours: np.ndarray, tags: Iterable[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """The pixels of the post's appearance colours (closed 3 x 3) and their blobs (``_blobs``), or None."""
        mine = sorted(set(tags) & self.profiles.keys())
        if not mine:
            return None
        q = quantise(colours)
        # likelier under one of the post's profiles than the background's: per colour bin, once per tag
        figure_bins, tops = self._of_tags(tuple(mine))
        fig = cv2.morphologyEx(figure_bins[q], cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        return fig, self._blobs(q, fig, tops)

    @functools.cached_property
    def _masks(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per appearance tag, over the colour bins: its figure colours (``ratio`` times likelier than under
        the background) and its ``top`` most frequent colours."""
        out = {}
        for t, p in self.profiles.items():
            top = np.zeros(BINS, bool)
            top[np.argsort(-p, kind="stable")[:self.params.top]] = True
            out[t] = (p > self.params.ratio * (self.background + 1e-6), top)
        return out

    def _of_tags(self, mine: tuple[str, ...]) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """What ``measure`` reads per colour bin for a post's appearance tags, made once per set of tags (a
        crawl has a few dozen): the figure's bins (uint8 0/1), and for ``_blobs`` each bin's column among
        the tags' top colours (-1: none of them) with the (columns, tags) matrix of which tag each is."""
        got = self._tag_sets.get(mine)
        if got is None:
            figure = np.logical_or.reduce([self._masks[t][0] for t in mine]).astype(np.uint8)
            tops = np.stack([self._masks[t][1] for t in mine])  # (tags, bins)
            union = np.flatnonzero(tops.any(axis=0))  # the top colours of any of the tags, at most top x tags
            column = np.full(BINS, -1, np.int32)
            column[union] = np.arange(len(union))
            got = self._tag_sets[mine] = (figure, (column, tops[:, union].T.astype(np.int32)))
        return got

    @functools.cached_property
    def _tag_sets(self) -> dict:
        return {}

    def _blobs(self, q: np.ndarray, fig: np.ndarray, tops: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``fig`` kept only in the blobs that hold at least ``need`` of one tag's ``top`` colours and at
        least ``major`` of the largest such blob's pixels: a prop in the character's colours, away from her,
        is background, and its outline background ink."""
        n, blobs = cv2.connectedComponents(cv2.dilate(fig, np.ones((5, 5), np.uint8)), connectivity=8,
                                           ltype=cv2.CV_16U)
        column, which = tops
        col = np.take(column, q)
        sel = np.flatnonzero((col >= 0) & (blobs > 0))
        # which top colours each blob holds: a count per (blob, column) pair (a scatter into an n x columns
        # matrix costs twice as much)
        pair = blobs.ravel()[sel].astype(np.int64) * len(which) + col.ravel()[sel]
        present = (np.bincount(pair, minlength=n * len(which)) > 0).reshape(n, len(which)).astype(np.int32)
        keep = (present @ which >= self.params.need).any(axis=1)
        keep[0] = False
        if keep.sum() > 1:
            area = np.bincount(blobs.ravel(), minlength=n)  # OpenCV's stats cost three times as much
            keep &= area >= self.params.major * area[keep].max()
        if n <= 256:  # the usual case (a dozen blobs): an 8-bit lookup, a fifth of a numpy gather's time
            return cv2.bitwise_and(fig, cv2.LUT(blobs.astype(np.uint8), np.pad(keep, (0, 256 - n)).view(np.uint8)))
        return cv2.bitwise_and(fig, keep.view(np.uint8)[blobs])

    def to_doc(self) -> dict:
        """JSON-ready, byte-stable for the same profiles (sparse bins at fixed precision)."""
        return {"params": asdict(self.params), "bins": BINS, "background": _sparse(self.background),
                "profiles": {t: _sparse(p) for t, p in sorted(self.profiles.items())}}

    @classmethod
    def from_doc(cls, doc: dict, where: str) -> Palette:
        if doc.get("bins") != BINS:
            raise ValueError(f"{where}: a palette of {doc.get('bins')} colour bins; this code reads {BINS}")
        params = PaletteParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in doc["params"].items()})
        return cls({t: _dense(p) for t, p in doc["profiles"].items()}, _dense(doc["background"]), params)


def _hers(fig: np.ndarray, blobs: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """The ``small`` measure's figure: her blobs (with none, her colours' pixels), her lines about them
    (``_outlined``) and what they enclose (``_whole``)."""
    return _whole(_outlined(blobs if cv2.countNonZero(blobs) else fig, ink))


def _outlined(figure: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """``figure`` (uint8 0/1, its colours' blobs) with its own lines: the inked pixels within ``OUTLINE`` of
    it. The truth's figure holds its outline and inner lines, which
    no colour profile has (at 256 px they are a quarter of a small figure); and a blob of her colours in
    the background, away from her, is not her. On the 4,000 posts' colour illustrations, near the 1%
    boundary (0.3% to 3%), the log error's spread against the truth's share goes from 0.25 (every pixel
    of her colours) to 0.16 (1.48 median absolute deviations: 0.20 -> 0.08), and the best cut's errors from 35 to 14.
    With no blob (none holds enough of her top colours) her colours' pixels are the figure."""
    near = cv2.bitwise_and(cv2.dilate(figure, OUTLINE), cv2.compare(ink, INK_EDGE, cv2.CMP_GT))
    return cv2.bitwise_or(figure, near)


def _whole(figure: np.ndarray) -> np.ndarray:
    """``figure`` (uint8 0/1: her colours and her lines) closed 3 x 3, with the holes it then encloses
    filled when each is no larger than the figure itself: what her outline encloses is her, in a colour
    of no profile too (a white dress is paper to the cut-outs' profile), but a frame line she touches
    must not make the whole picture hers. On the 4,000 posts' 2,925 colour illustrations (the truth's
    areas, for measuring only) the characters' median log error went from 0.06-0.26 to 0.18-0.28 (the
    girl in white read lowest), the spread near the 1% boundary from 0.155 to 0.150, the AUC for
    "under 1%" from 0.9979 to 0.9981, and the best cut's errors from 14 to 9."""
    closed = cv2.morphologyEx(figure, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    filled = _filled(closed)
    limit = cv2.countNonZero(figure)
    if cv2.countNonZero(filled) - cv2.countNonZero(closed) <= limit:  # all holes together no larger: no count
        return filled
    n, label, stats, _ = cv2.connectedComponentsWithStats(cv2.subtract(filled, closed), connectivity=4)
    fill = stats[:, cv2.CC_STAT_AREA] <= limit
    fill[0] = False
    return cv2.bitwise_or(closed, fill.view(np.uint8)[label])


def _insides(colours: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """uint8 0/1 on the maps' grid: the insides of a comic page's bordered panels, ``PANEL_RIM`` pixels in
    from their borders (all of it where none is found). A panel is an outer contour of the dark pixels (at
    ``LINE`` ink or more, or a colour darker than ``DARK`` levels: the hair a figure draws over a border
    joins it, as the pixel rules read them) at least ``PANEL_AREA`` of the page and ``PANEL_FILL`` of its
    bounding box. A figure is drawn inside a panel: the gutters, the margin and the borders never are, even
    in her colours (a grey jacket takes in the paper about it, and with it the page's whole frame). On the
    4,000 posts' 142 colour comic pages the AUC of this background ink for the truth's ``clutter`` goes
    from 0.892 to 0.968 (the page ink's, ``pipeline.filter.scoring.line_rows``: 0.938 to 0.963), the page
    ink's log error's spread from 0.121 to 0.087, and its best cut's errors from 17 to 12."""
    h, w = ink.shape
    dark = cv2.bitwise_or(cv2.compare(ink, LINE, cv2.CMP_GE), cv2.compare(colours.max(axis=2), DARK, cv2.CMP_LT))
    contours, _ = cv2.findContours(dark, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    inside = np.zeros((h, w), np.uint8)
    for c in contours:
        x, y, cw, ch = cv2.boundingRect(c)
        if cw * ch >= PANEL_AREA * h * w and cv2.contourArea(c) >= PANEL_FILL * cw * ch:
            inside[y + PANEL_RIM:y + ch - PANEL_RIM, x + PANEL_RIM:x + cw - PANEL_RIM] = 1
    return inside if inside.any() else np.ones((h, w), np.uint8)  # none found at this size: no limit


def _filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` (uint8 0/1) with its holes filled: what the figure's colours enclose (a part in a colour of
    none of its profiles, the lines inside it) is the figure, not background ink."""
    h, w = mask.shape
    outside = np.ones((h + 2, w + 2), np.uint8)  # 1: not the figure; a frame of it joins every border
    outside[1:-1, 1:-1] = 1 - mask
    cv2.floodFill(outside, None, (0, 0), 2)
    return (outside[1:-1, 1:-1] != 2).view(np.uint8)


def _sparse(h: np.ndarray) -> dict[str, float]:
    """The non-zero bins (a profile holds a few thousand of 32768), at 6 significant digits."""
    return {str(int(k)): float(f"{h[k]:.6g}") for k in np.flatnonzero(h)}


def _dense(h: dict[str, float]) -> np.ndarray:
    out = np.zeros(BINS)
    out[[int(k) for k in h]] = list(h.values())
    return out


def learn(colour_maps: list[np.ndarray | None], tags: list[set[str]], colour: np.ndarray,
          cfg: PaletteParams) -> Palette:
    """The palette of a crawl (module docstring): ``colour_maps`` are the pictures' stored maps (None for a
    grey picture, which has none), ``colour`` their coloured share; tags only, never a verdict or a truth."""
    per_tag, n_tag = defaultdict(lambda: np.zeros(BINS)), defaultdict(int)
    pooled, background = np.zeros(BINS), np.zeros(BINS)
    for levels, t, c in zip(colour_maps, tags, colour, strict=True):
        if levels is None or c <= cfg.min_colour or t & set(cfg.exclude_tags):
            continue
        if t & set(cfg.cutout_tags):
            off = levels.min(axis=2) <= (255 - PAPER - 1) >> BITS
            if off.sum() > 20:
                h = histogram(quantise(levels[off]))
                pooled += h
                for tag in t:
                    per_tag[tag] += h
                    n_tag[tag] += 1
        if t & set(cfg.background_tags) and t & set(cfg.scenery_tags):
            background += histogram(quantise(levels))
    pooled /= max(1.0, pooled.sum())
    profiles = {}
    for tag in sorted(per_tag):
        h = per_tag[tag] / per_tag[tag].sum()
        if n_tag[tag] >= cfg.min_cutouts and 0.5 * np.abs(h - pooled).sum() >= cfg.min_distance:
            profiles[tag] = _dense(_sparse(h))  # as saved: the filter stage measures with what was written
    return Palette(profiles, _dense(_sparse(background / max(1.0, background.sum()))), cfg)
