"""The heads' probabilities: each picture's measure (``pipeline.filter.palette``) or, where it has none, its
CNN score, through that score's calibration (``pipeline.filter.calibrate.calibrate``).

The classifier stage learns the palette, fits the calibrations and saves all of it (``Scoring.save``);
the filter stage loads it and applies it to the same saved maps and the same CNN, so both stages see the
same probabilities (the classifier stage checks it). A measure is used where it exists because it ranks
pictures within a tag (``wide_shot`` figures from 0.3% to 7%); the CNN only sees framing, but it scores the
pictures no palette can measure (grey ones, or a colour one whose tags name no known appearance).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.filter.calibrate import calibrate, probability
from pipeline.filter.config import HEADS, CalibrationParams
from pipeline.filter.palette import Palette, unpack
from pipeline.store import atomic_path

MEASURES = {"small": "figure", "clutter": "background_ink"}  # each head's measure (a FILTER column)
FLOOR = {"small": 1e-4, "clutter": 1e-5}  # added before the log: an empty figure or a bare background


def tags_by_md5(images: pd.DataFrame, posts: pd.DataFrame) -> dict[str, set[str]]:
    """Each representative file's tags (the post dedup kept for it)."""
    reps = images[(images["status"] == "ok") & images["keep"]][["id", "md5"]]
    reps = reps.merge(posts[["id", "tags"]], on="id", how="left").drop_duplicates("md5")
    return {m: set(str(t).split()) for m, t in zip(reps["md5"], reps["tags"].fillna(""), strict=True)}


def measure_rows(pixels: pd.DataFrame, tags: Mapping[str, set[str]], palette: Palette,
                 workers: int) -> pd.DataFrame:
    """``md5, figure, background_ink`` of the FILTER_PIXELS rows (NaN where not measured); a row whose
    bordered panels cover the page (the palette's ``panels`` and ``panel_cover``) is measured as a
    panelled page (``Palette.measure``)."""
    ok = pixels[(pixels["status"] == "ok") & (pixels["colour"] > palette.params.min_colour)
                & pixels["palette"].notna()]  # encoding keeps maps for colour pictures only
    pp = palette.params
    panelled = (ok["panels"] >= pp.panels) & (ok["panel_cover"] >= pp.panel_cover)
    items = [(c, i, sorted(tags.get(m, ())), bool(p)) for m, c, i, p in zip(
        ok["md5"], ok["palette"], ok["ink_map"], panelled, strict=True)]
    _HELD[:] = [palette, items]
    try:
        if workers > 1 and len(items) > 64:
            with get_context("fork").Pool(workers) as pool:  # forked now: the workers inherit palette and maps
                got = pool.map(_measure, range(len(items)), chunksize=64)
        else:
            got = [_measure(k) for k in range(len(items))]
    finally:
        _HELD.clear()
    found = {m: v for m, v in zip(ok["md5"], got, strict=True) if v is not None}
    md5s = pixels["md5"].to_numpy()
    return pd.DataFrame({"md5": md5s, **{col: [found[m][k] if m in found else np.nan for m in md5s]
                                         for k, col in enumerate(MEASURES.values())}})


_HELD: list = []  # [palette, items] of the measuring under way (a forked worker inherits them)


def _measure(k: int) -> tuple[float, float] | None:
    colours, ink, tags, panelled = _HELD[1][k]
    return _HELD[0].measure(unpack(colours), unpack(ink), tags, panelled)


def features(measured: pd.DataFrame, cnn: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per head: (x, has_measure): the log of the measure (higher: more likely yes) where there is one,
    else the CNN's logit."""
    out = {}
    for k, head in enumerate(HEADS):
        m = measured[MEASURES[head]].to_numpy(float)
        has = ~np.isnan(m)
        logm = np.log(np.where(has, m, 1.0) + FLOOR[head])
        p = np.clip(cnn[:, k], 1e-6, 1 - 1e-6)
        out[head] = (np.where(has, -logm if head == "small" else logm, np.log(p / (1 - p))), has)
    return out


@dataclass(frozen=True)
class Scoring:
    palette: Palette
    fits: dict[str, dict[str, dict]]  # head -> {"measure": curve, "cnn": curve} (``calibrate``)
    threshold: float  # a head rejects a picture whose probability is at least this

    @property
    def thresholds(self) -> dict[str, float]:
        return {h: self.threshold for h in HEADS}

    def cnn_rows(self, measured: pd.DataFrame) -> np.ndarray:
        """Which pictures a head scores by the CNN (``probabilities``): those with no measure, or all of them
        where a head's measure has no calibration. The others need no CNN score (NaN), so the filter stage
        runs the network only on these (nine in ten colour pictures are measured)."""
        has = measured[MEASURES[HEADS[0]]].notna().to_numpy()
        if any(self.fits[h]["measure"]["how"] == "none" for h in HEADS):
            return np.ones(len(measured), bool)
        return ~has

    def probabilities(self, measured: pd.DataFrame, cnn: np.ndarray) -> pd.DataFrame:
        """``md5, p_<head>..., <measure>...``: each picture's probability per head, and its measures. ``cnn``
        may be NaN outside ``cnn_rows``."""
        out = measured.copy()
        for head, (x, has) in features(measured, cnn).items():
            fit = self.fits[head]
            use = has & (fit["measure"]["how"] != "none")
            cnn_p = probability(x, fit["cnn"]) if fit["cnn"]["how"] != "none" else 1 / (1 + np.exp(-x))
            out[f"p_{head}"] = np.where(use, probability(x, fit["measure"]) if use.any() else 0.0, cnn_p)
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
    """Each head's two calibrations: its measure's on the measured pictures, the CNN's on the others."""
    fits = {}
    for k, (head, (x, has)) in enumerate(features(measured, cnn).items()):
        measure = calibrate(x[has], weak[has, k], human[has, k], cfg)
        rest = ~has if measure["how"] != "none" else np.ones(len(x), bool)
        fits[head] = {"measure": measure, "cnn": calibrate(x[rest], weak[rest, k], human[rest, k], cfg)}
    return Scoring(palette, fits, cfg.threshold)
