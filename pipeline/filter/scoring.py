"""The heads' probabilities: each picture's palette measure (``pipeline.filter.palette``) or, where it has
none, its line figure measure (``pipeline.filter.lines``), or else its CNN score, through that score's
calibration (``pipeline.filter.calibrate.calibrate``).

The classifier stage learns the palette and the line figure network, fits the calibrations and saves them
(``Scoring.save``, ``models/lines.onnx``); the filter stage loads them and applies them to the same saved
maps and the same CNN, so both stages see the same probabilities (the classifier stage checks it). A
measure is used where it exists because it ranks pictures within a tag (``wide_shot`` figures from 0.3% to
7%); the CNN only sees framing. The palette needs colours and a known appearance; the line figure only an
ink map (a grey picture, or a colour one whose tags name no known appearance); the CNN is left for a
picture with neither (none decodes without an ink map today, but a calibration may be missing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.filter.calibrate import calibrate, probability
from pipeline.filter.config import HEADS, CalibrationParams
from pipeline.filter.lines import LineFigure
from pipeline.filter.maps import unpack
from pipeline.filter.palette import Palette
from pipeline.store import atomic_path

MEASURED = ("figure", "background_ink", "line_figure", "line_ink", "page_ink")  # ``measure_rows``' (FILTER's too)
MEASURES = {"small": ("figure", "line_figure"), "clutter": ("page_ink", "background_ink", "line_ink")}  # first first
FLOOR = {"small": 1e-4, "clutter": 1e-5}  # added before the log: an empty figure or a bare background


def tags_by_md5(images: pd.DataFrame, posts: pd.DataFrame) -> dict[str, set[str]]:
    """Each representative file's tags (the post dedup kept for it)."""
    reps = images[(images["status"] == "ok") & images["keep"]][["id", "md5"]]
    reps = reps.merge(posts[["id", "tags"]], on="id", how="left").drop_duplicates("md5")
    return {m: set(str(t).split()) for m, t in zip(reps["md5"], reps["tags"].fillna(""), strict=True)}


def measure_rows(pixels: pd.DataFrame, tags: Mapping[str, set[str]], palette: Palette, lines: LineFigure,
                 workers: int, batch: int) -> pd.DataFrame:
    """``md5`` and the MEASURED columns of the FILTER_PIXELS rows (NaN where not measured): the palette's
    two measures of a colour picture it can measure (``palette_rows``), the line figure's two of any other
    picture with an ink map (``line_rows``: a grey one, or colour with no appearance tag), and the two
    together on a colour comic page. The network runs while the palette's pool measures: which rows it reads
    is known beforehand (no colours, no appearance tag, or a panelled page), and the pool leaves the cores
    idle while it starts and gathers."""
    ok = (pixels["status"].eq("ok") & pixels["ink_map"].notna()).to_numpy()
    appears = np.array([palette.can_measure(tags.get(m, ())) for m in pixels["md5"]], bool)
    use = ok & (~(_coloured(pixels, palette).to_numpy() & appears) | panelled(pixels, palette).to_numpy())
    inks = [unpack(b) for b in pixels["ink_map"].to_numpy()[use]]
    measured, got = palette_rows(pixels, tags, palette, workers, meanwhile=lambda: lines.measure(inks, batch))
    return _with_lines(measured, pixels, palette, use, got)


def _coloured(pixels: pd.DataFrame, palette: Palette) -> pd.Series:
    """The rows with a colour map and more than the palette's ``min_colour``: the ones it may measure."""
    return (pixels["colour"] > palette.params.min_colour) & pixels["palette"].notna()


def panelled(pixels: pd.DataFrame, palette: Palette) -> pd.Series:
    """The rows whose bordered panels cover the page (the palette's ``panels`` and ``panel_cover``): a
    comic page, measured as one (``Palette.measure``, ``line_rows``)."""
    return (pixels["panels"] >= palette.params.panels) & (pixels["panel_cover"] >= palette.params.panel_cover)


def palette_rows(pixels: pd.DataFrame, tags: Mapping[str, set[str]], palette: Palette, workers: int,
                 meanwhile: Callable[[], Any] = lambda: None) -> tuple[pd.DataFrame, Any]:
    """(``md5, figure, background_ink`` of the FILTER_PIXELS rows, NaN where the palette cannot measure, a
    ``panelled`` page measured as one; what ``meanwhile`` returned, called while the workers measure)."""
    ok = pixels[(pixels["status"] == "ok") & pixels["ink_map"].notna()]
    colour = _coloured(ok, palette)
    items = [(c, i, sorted(tags.get(m, ())), bool(p)) for m, c, i, p, k in zip(
        ok["md5"], ok["palette"], ok["ink_map"], panelled(ok, palette), colour, strict=True) if k]
    _HELD[:] = [palette, items]
    try:
        if workers > 1 and len(items) > 64:
            with get_context("fork").Pool(workers) as pool:  # forked now: the workers inherit palette and maps
                pending = pool.map_async(_measure, range(len(items)), chunksize=64)
                extra = meanwhile()
                got = pending.get()
        else:
            extra = meanwhile()
            got = [_measure(k) for k in range(len(items))]
    finally:
        _HELD.clear()
    found = {ok["md5"].iat[k]: g for k, g in zip(np.flatnonzero(colour.to_numpy()), got, strict=True) if g}
    md5s = pixels["md5"].to_numpy()
    return pd.DataFrame({"md5": md5s, **{col: [found[m][k] if m in found else np.nan for m in md5s]
                                         for k, col in enumerate(MEASURED[:2])}}), extra


def line_rows(measured: pd.DataFrame, pixels: pd.DataFrame, palette: Palette, lines: LineFigure, batch: int
              ) -> pd.DataFrame:
    """``measured`` (``palette_rows``, the same rows as ``pixels``) with ``line_figure, line_ink``, the line
    figure network's measures of each row with an ink map and no palette measure, and of each panelled
    page the palette measured; and that page's ``page_ink``, the geometric mean of its two ink measures.
    On a comic page the palette's figure misses what is not in her colours and the network never saw a
    page of panels; each reads the truth's clutter of the 4,000 posts' 143 colour comic pages at AUC 0.89
    and 0.93, together at 0.94 (in the reviewer's run of 2026-12-08, with the palette's figure kept inside
    the panels, ``palette._insides``: 0.97 and 0.91, together 0.96)."""
    use = _line_use(measured, pixels, palette)
    got = lines.measure([unpack(b) for b in pixels["ink_map"].to_numpy()[use]], batch)
    return _with_lines(measured, pixels, palette, use, got)


def _line_use(measured: pd.DataFrame, pixels: pd.DataFrame, palette: Palette) -> np.ndarray:
    """The rows the line figure measures: an ink map and no palette measure, or a panelled page."""
    page = panelled(pixels, palette).to_numpy() & measured["figure"].notna().to_numpy()
    return (pixels["status"].eq("ok") & pixels["ink_map"].notna()).to_numpy() & (measured["figure"].isna().to_numpy()
                                                                                 | page)


def _with_lines(measured: pd.DataFrame, pixels: pd.DataFrame, palette: Palette, use: np.ndarray,
                got: list[tuple[float, float]]) -> pd.DataFrame:
    """``measured`` with the line figure's measures ``got`` of the ``use`` rows, and the page ink."""
    if not np.array_equal(use, _line_use(measured, pixels, palette)):
        raise RuntimeError("the line figure measured other rows than the palette left it")
    page = panelled(pixels, palette).to_numpy() & measured["figure"].notna().to_numpy()
    out = measured.copy()
    for k, col in enumerate(("line_figure", "line_ink")):
        out[col] = np.nan
        out.loc[use, col] = [g[k] for g in got]
    out["page_ink"] = np.where(page, np.sqrt(out["background_ink"] * out["line_ink"]), np.nan)
    return out


_HELD: list = []  # [palette, items] of the measuring under way (a forked worker inherits them)


def _measure(k: int) -> tuple[float, float] | None:
    colours, ink, tags, page = _HELD[1][k]
    return _HELD[0].measure(unpack(colours), unpack(ink), tags, page)


def features(measured: pd.DataFrame, cnn: np.ndarray) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """Per head, its scores in the order they are used: (name, x, has) for each of its measures (the log of
    it, higher: more likely yes; ``has``: measured), then ("cnn", the CNN's logit, everywhere)."""
    out = {}
    for k, head in enumerate(HEADS):
        out[head] = []
        for col in MEASURES[head]:
            m = measured[col].to_numpy(float)
            has = ~np.isnan(m)
            logm = np.log(np.where(has, m, 1.0) + FLOOR[head])
            out[head].append((col, -logm if head == "small" else logm, has))
        p = np.clip(cnn[:, k], 1e-6, 1 - 1e-6)
        out[head].append(("cnn", np.log(p / (1 - p)), np.ones(len(p), bool)))
    return out


def _scored_by(scores: list[tuple[str, np.ndarray, np.ndarray]], fits: Mapping[str, dict]) -> dict[str, np.ndarray]:
    """Which pictures each score decides: the first of the head's measures that a picture has and that
    has a calibration, else the CNN. A score not in ``fits`` yet takes what it would with a calibration
    (``fit_scoring`` fits each on those)."""
    left = np.ones(len(scores[0][1]), bool)
    out = {}
    for name, _, has in scores:
        if name == "cnn":
            use = left
        elif name not in fits or fits[name]["how"] != "none":
            use = left & has
        else:  # no calibration: the measure says nothing yet
            use = np.zeros_like(left)
        out[name] = use
        left = left & ~use
    return out


@dataclass(frozen=True)
class Scoring:
    palette: Palette
    fits: dict[str, dict[str, dict]]  # head -> {score name (MEASURES, "cnn"): curve} (``calibrate``)
    threshold: float  # a head rejects a picture whose probability is at least this

    @property
    def thresholds(self) -> dict[str, float]:
        return {h: self.threshold for h in HEADS}

    def decided_by(self, measured: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per head, the name of the score that decides each picture (one of its MEASURES, or "cnn" where no
        calibrated measure of it scores the picture): what ``probabilities`` reads."""
        nan = np.full((len(measured), len(HEADS)), np.nan)
        out = {}
        for h, scores in features(measured, nan).items():
            names = np.full(len(measured), "cnn", object)
            for name, use in _scored_by(scores, self.fits[h]).items():
                names[use] = name
            out[h] = names
        return out

    def cnn_rows(self, measured: pd.DataFrame) -> np.ndarray:
        """Which pictures some head scores by the CNN (``probabilities``). The others need no CNN score
        (NaN), so the filter stage runs the network only on these."""
        return np.logical_or.reduce([names == "cnn" for names in self.decided_by(measured).values()])

    def probabilities(self, measured: pd.DataFrame, cnn: np.ndarray) -> pd.DataFrame:
        """``md5, p_<head>..., <measure>...``: each picture's probability per head, and its measures. ``cnn``
        may be NaN outside ``cnn_rows``."""
        out = measured.copy()
        for head, scores in features(measured, cnn).items():
            fits, p = self.fits[head], np.full(len(measured), np.nan)
            by = _scored_by(scores, fits)
            for name, x, _ in scores:
                use = by[name]
                if not use.any():
                    continue
                p[use] = probability(x[use], fits[name]) if fits[name]["how"] != "none" else 1 / (1 + np.exp(-x[use]))
            out[f"p_{head}"] = p
        return out

    def save(self, path: Path | str) -> None:
        """One JSON file (``models/scoring.json``), byte-stable for the same fit, written atomically."""
        doc = {"threshold": self.threshold, "fits": self.fits, "palette": self.palette.to_doc()}
        with atomic_path(Path(path)) as dest:
            Path(dest).write_text(json.dumps(doc, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path | str) -> Scoring:
        doc = json.loads(Path(path).read_text())
        if not {"threshold", "fits", "palette"} <= doc.keys():
            raise ValueError(f"{path}: not a scoring written by the classifier stage")
        return cls(Palette.from_doc(doc["palette"], str(path)), doc["fits"], float(doc["threshold"]))


def fit_scoring(palette: Palette, measured: pd.DataFrame, cnn: np.ndarray, weak: np.ndarray, human: np.ndarray,
                cfg: CalibrationParams) -> Scoring:
    """Each head's calibrations, one per score, each on the pictures that score decides (``_scored_by``):
    a measure's on the pictures it measures, the CNN's on the rest."""
    fits = {}
    for k, (head, scores) in enumerate(features(measured, cnn).items()):
        fits[head] = {}
        for name, x, _ in scores:
            use = _scored_by(scores, fits[head])[name]
            fits[head][name] = calibrate(x[use], weak[use, k], human[use, k], cfg)
    return Scoring(palette, fits, cfg.threshold)
