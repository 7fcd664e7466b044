"""The classifier stage's work: labels for every representative, out-of-fold training, the palette, calibration.

Pictures are the readable dedup representatives (duplicates would put one drawing in two folds). Each
picture's targets are its human verdicts where there are any, else its tag weak labels. The CNN is trained
out-of-fold and exported; the palette (``pipeline.filter.palette``) is learnt from tags, and the line figure
network (``pipeline.filter.lines``) from the palette's figures; each head's score (the measure where there
is one, else the CNN's) is calibrated into a probability
(``pipeline.filter.scoring``). ``metrics`` says how the probabilities agree with the tags and with the people
who labelled, so a user sees how noisy the tags are and how well the filter follows the verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from pipeline.filter.calibrate import enough, human_labels, weak_labels
from pipeline.filter.config import HEADS, ClassifierConfig, fold_of
from pipeline.filter.encode import thumbs_of
from pipeline.filter.lines import LineFigure
from pipeline.filter.lines_train import cached
from pipeline.filter.maps import unpack
from pipeline.filter.onnx_export import export
from pipeline.filter.onnx_model import Scorer
from pipeline.filter.palette import learn
from pipeline.filter.scoring import FLOOR, MEASURES, Scoring, fit_scoring, line_rows, palette_rows
from pipeline.filter.train import train_folds
from pipeline.labels import Label


@dataclass
class Result:
    metrics: dict
    scoring: Scoring
    probabilities: pd.DataFrame  # md5, p_<head>..., the measures


def training_set(images: pd.DataFrame, posts: pd.DataFrame, pixels: pd.DataFrame) -> pd.DataFrame:
    """The decodable representatives with their tags and saved encodings, in md5 order."""
    reps = images[(images["status"] == "ok") & images["keep"]][["id", "md5"]]
    reps = reps.merge(posts[["id", "tags"]], on="id", how="left").drop_duplicates("md5")
    ok = pixels[pixels["status"] == "ok"][["md5", "status", "colour", "panels", "panel_cover", "thumb", "palette",
                                           "ink_map"]]
    return reps.merge(ok, on="md5").sort_values("md5", kind="stable").reset_index(drop=True)


def train_classifier(data: pd.DataFrame, verdicts: Mapping[tuple[str, str], Label], cfg: ClassifierConfig,
                     out: Path | str, lines_out: Path | str, cache_dir: Path | str, workers: int = 1,
                     progress: bool = True) -> Result:
    """Train the k fold models on ``data`` (``training_set``), export to ``out``, check parity, learn the
    palette and the line figure network (``lines_out``, kept in ``cache_dir``: ``lines_train.cached``) and
    calibrate every head's score."""
    thumbs = thumbs_of(data, cfg.encode.thumb)
    weak = weak_labels(data["tags"], cfg.weak)
    human = human_labels(data["md5"], verdicts)
    if len(data) < 2 * cfg.train.folds:
        raise ValueError(f"{len(data)} decodable pictures: too few to train {cfg.train.folds} folds")
    targets, weights = logit_targets(weak, human, cfg.train.human_weight)
    folds = np.array([fold_of(m, cfg.train.folds) for m in data["md5"]])
    trained = train_folds(thumbs, targets, weights, folds, cfg.train, progress=progress)
    n = len(HEADS)
    use = [enough(human[:, k], cfg.calibration) for k in range(n)]
    cnn = np.stack([trained.oof[:, k + (n if use[k] else 0)] for k in range(n)], axis=1)
    export(trained.models, out, thumb=cfg.encode.thumb, use_verdicts=use)
    parity = float(np.abs(Scorer(out, threads=cfg.train.threads).score_rows(data, cfg.batch) - cnn).max())
    if parity > 1e-4:
        raise RuntimeError(f"onnxruntime and torch differ by {parity:.3g} (> 1e-4)")
    tags = [set(str(t).split()) for t in data["tags"].fillna("")]
    palette = learn([None if b is None else unpack(b) for b in data["palette"]], tags, data["colour"].to_numpy(),
                    cfg.palette)
    measured, _ = palette_rows(data, dict(zip(data["md5"], tags, strict=True)), palette, workers)
    learnt = cached(data, tags, palette, measured, cfg.lines, cache_dir, lines_out, progress)
    measured = line_rows(measured, data, palette, LineFigure(lines_out, threads=cfg.lines.threads), cfg.batch)
    scoring = fit_scoring(palette, measured, cnn, weak, human, cfg.calibration)
    probs = scoring.probabilities(measured, cnn)
    metrics = {"pictures": len(data), "folds": cfg.train.folds, "thumb": cfg.encode.thumb,
               "onnx_parity": {"max_abs_diff": parity, "tolerance": 1e-4},
               "loss": {f"fold{k}": [round(x, 5) for x in h] for k, h in enumerate(trained.losses)},
               "palette": {"appearance_tags": sorted(palette.profiles), "measured": int(measured["figure"].notna().sum())},
               "lines": {"learnt_from": learnt, "measured": int(measured["line_figure"].notna().sum())},
               "threshold": scoring.threshold}
    for k, head in enumerate(HEADS):
        p = probs[f"p_{head}"].to_numpy()
        labelled = ~np.isnan(human[:, k])
        only_weak = ~labelled & ~np.isnan(weak[:, k])
        metrics[head] = {"calibration": scoring.fits[head], "cnn_logit": "verdict" if use[k] else "tag",
                         "boundary": {m: boundary(scoring.fits[head][m], head, scoring.threshold)
                                      for m in MEASURES[head]},
                         "weak_labels": int((~np.isnan(weak[:, k])).sum()),
                         "weak_positive": int((weak[:, k] == 1).sum()),
                         "against_weak": agreement(p[only_weak], weak[only_weak, k] == 1, scoring.threshold),
                         "against_human": agreement(p[labelled], human[labelled, k] == 1, scoring.threshold)}
    return Result(metrics, scoring, probs)


def boundary(curve: Mapping, head: str, threshold: float) -> float | None:
    """The measure at which the head's probability reaches the threshold: a figure share (below it: too
    small), an ink density (above it: too cluttered); None without a calibrated measure."""
    if curve["how"] == "none" or max(curve["p"]) < threshold:
        return None
    x = float(curve["x"][int(np.argmax(np.asarray(curve["p"]) >= threshold))])
    return round(float((np.exp(-x) if head == "small" else np.exp(x)) - FLOOR[head]), 6)


def logit_targets(weak: np.ndarray, human: np.ndarray, human_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Targets and weights of the 2 x heads logits (``pipeline.filter.train``): tag logits learn the tags
    with each verdict in place of its picture's tag; verdict logits learn the verdicts, which together
    weigh ``human_weight`` times the head's tag labels."""
    tag = np.where(np.isnan(human), weak, human)
    w_tag = np.where(np.isnan(tag), 0.0, 1.0)
    n_tag, n_human = w_tag.sum(axis=0), (~np.isnan(human)).sum(axis=0)
    w_human = np.where(np.isnan(human), 0.0, human_weight * n_tag / np.maximum(1, n_human))
    return np.concatenate([tag, human], axis=1), np.concatenate([w_tag, w_human], axis=1)


def agreement(p: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    """Out-of-fold scores against labels: count, accuracy, precision, recall at the threshold, and AUC."""
    if not len(p):
        return {"n": 0}
    pred = p >= threshold
    tp = int((pred & y).sum())
    return {"n": int(len(p)), "accuracy": round(float((pred == y).mean()), 4),
            "precision": round(tp / max(1, int(pred.sum())), 4), "recall": round(tp / max(1, int(y.sum())), 4),
            "auc": round(auc(p, y), 4) if 0 < y.sum() < len(y) else None}


def auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half)."""
    ranks = rankdata(p)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
