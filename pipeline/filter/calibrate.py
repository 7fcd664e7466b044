"""Labels for the heads: tag weak labels, human verdicts over them, and the probabilities they calibrate.

Weak labels are free but coarse: ``wide_shot`` says a figure is small, not whether it is *too* small.
Human verdicts (``review/labels.csv``) are few but exact. Each head's score (the figure's share, the
background's ink, or the CNN's logit where those cannot be measured) becomes a probability, and a picture
is rejected when it reaches ``calibration.threshold``. The documented rule (``calibrate``), by which the
verdicts move the boundary:

- The boundary is a *rank* among the pictures' scores, and a verdict is a noisy look at which side of it a
  picture lies: P(yes | rank u) = sigmoid(s (u - u0)), the slope s unknown (a grid from a soft boundary to
  one whose P(yes) goes from 0.12 to 0.88 over ``sharpest`` pictures), and a share ``lapse`` of the
  verdicts a coin toss. Ranks, not score units, so the rule is the same for a share, an ink density or a
  logit. Why both: a sharper boundary than a few pictures cannot be told from a few hundred verdicts,
  and with no lapse one verdict the measure misreads pins it. On the 4,000 posts the grey pictures' line
  figure had 30 verdicts of "not small" above one "small" at a share of 2.8% (its truth: 0.8%); the
  sharpest slope explained all of them, every grey picture under 2.8% read "small" at 0.85-0.99, none was
  near enough the threshold to be shown, and 23 were flagged wrongly. The simulated reviewer replayed on
  that run's measures with the comic pages' new ink (``benchmarks/filter_replay.py``: the measures do
  not depend on the verdicts), on all its pictures and on 30 random nine-tenths of them: with the
  sharpest slope at 3,000 a unit of rank (a third of a picture at 3,000 pictures) and no lapse, `small`
  made 19.2 errors on average and met 0.95 / 0.95 in 6 of 31 runs; at 8 pictures and 5%, 8.6 errors and
  13 of 31 (`clutter`: 40.2 -> 35.2).
- Before any verdict, the boundary is where the tags put it (a logistic fit of the weak labels on the
  score): ``prior_tags`` of the prior sits there (``prior_width`` ranks wide), the rest spreads evenly
  over every rank, because people may draw the line anywhere.
- Each verdict multiplies in its likelihood; a picture's probability is the posterior mean of the
  sigmoid. Verdicts that all say "no" around the tags' boundary kill the prior's peak, and the boundary
  jumps to the middle of the ranks left: the next pictures shown are there, a bisection. Verdicts on both
  sides pin it, and its sharpness, down. Sampling the pictures nearest the boundary (what the report
  shows first) does not bias this: the likelihood is of the verdict given the score.
- With neither tags of both values nor verdicts, there is no calibration (``how: none``): the measured
  score is not used, the CNN's is read as a probability.

The result is a curve (score knots and their probabilities) that both stages interpolate, so the filter
stage needs no ranks of its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.filter.config import HEADS, CalibrationParams, WeakParams
from pipeline.labels import Label

L2 = 1e-3  # a hair of ridge on (slope, intercept): separable verdicts give a steep, finite fit


def weak_labels(tags: pd.Series, weak: WeakParams) -> np.ndarray:
    """(N, heads): 1 / 0 from each head's positive / negative tags, NaN with both or neither."""
    sets = [set(str(t).split()) for t in tags.fillna("")]
    out = np.full((len(sets), len(HEADS)), np.nan)
    for k, head in enumerate(HEADS):
        rule = getattr(weak, head)
        pos = np.array([bool(s.intersection(rule.positive)) for s in sets], bool)
        neg = np.array([bool(s.intersection(rule.negative)) for s in sets], bool)
        out[pos & ~neg, k], out[neg & ~pos, k] = 1.0, 0.0
    return out


def human_labels(md5s: pd.Series, verdicts: Mapping[tuple[str, str], Label]) -> np.ndarray:
    """(N, heads): the verdict in force per picture and head, NaN where there is none."""
    out = np.full((len(md5s), len(HEADS)), np.nan)
    for i, md5 in enumerate(md5s):
        for k, head in enumerate(HEADS):
            lab = verdicts.get((md5, head))
            if lab is not None:
                out[i, k] = lab.value
    return out


def enough(human: np.ndarray, cfg: CalibrationParams) -> bool:
    """Whether one head's verdicts (a column of ``human_labels``) are enough for the CNN's verdict logit."""
    y = human[~np.isnan(human)]
    return len(y) >= cfg.min_labels and min(int((y == 1).sum()), int((y == 0).sum())) >= cfg.min_each


SOFTEST = 10.0  # per unit of rank: P(yes) from 0.12 to 0.88 over 40% of the pictures
GRID = np.linspace(0.0, 1.0, 401)  # the boundary's possible ranks
KNOTS = 1024  # the curve's points (score quantiles)


def calibrate(x: np.ndarray, weak: np.ndarray, human: np.ndarray, cfg: CalibrationParams) -> dict:
    """``{x, p, how, labels, yes, no}`` for one head and one score (module docstring): ``x``, ``weak`` and
    ``human`` are over the pictures that score; ``probability(x, curve)`` reads it."""
    labelled = ~np.isnan(human)
    record = {"labels": int(labelled.sum()), "yes": int((human == 1).sum()), "no": int((human == 0).sum())}
    known = ~np.isnan(weak)
    tags = bool(known.any() and 0 < np.nansum(weak) < known.sum())
    if not len(x) or not (tags or (record["yes"] and record["no"])):
        return record | {"x": [], "p": [], "how": "none"}
    order = np.sort(x)
    u = (np.searchsorted(order, x, side="left") + np.searchsorted(order, x, side="right")) / (2 * len(x))
    log_prior = np.log(np.full(len(GRID), 1.0 - cfg.prior_tags if tags else 1.0))
    if tags:
        a, b = fit_logistic(x[known], weak[known], np.ones(int(known.sum())))
        u_tags = np.searchsorted(order, -b / a) / len(x) if a > 0 else 0.5
        peak = np.exp(-(GRID - u_tags) ** 2 / (2 * cfg.prior_width ** 2)) / np.sqrt(2 * np.pi * cfg.prior_width ** 2)
        log_prior = np.log(np.exp(log_prior) + cfg.prior_tags * peak)
    slopes = _slopes(len(x), cfg.sharpest)
    log_post = np.repeat(log_prior[:, None], len(slopes), axis=1)
    if labelled.any():
        z = slopes[None, None, :] * (u[labelled][:, None, None] - GRID[None, :, None])
        side = np.where(human[labelled] == 1, 1.0, -1.0)[:, None, None]  # P(no | z) = P(yes | -z)
        log_post += _log_verdict(side * z, cfg.lapse).sum(axis=0)
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    knots = np.unique(np.quantile(x, np.linspace(0, 1, KNOTS)))
    uk = (np.searchsorted(order, knots, side="left") + np.searchsorted(order, knots, side="right")) / (2 * len(x))
    z = np.clip(slopes[None, None, :] * (uk[:, None, None] - GRID[None, :, None]), -50, 50)
    p = (post[None] / (1 + np.exp(-z))).sum(axis=(1, 2))
    return record | {"x": [round(float(v), 6) for v in knots], "p": [round(float(v), 6) for v in p],
                     "how": "verdicts" if labelled.any() else "tags"}


def _log_verdict(z: np.ndarray, lapse: float) -> np.ndarray:
    """log P(a verdict says yes) at ``z`` = s (u - u0): ``lapse / 2 + (1 - lapse) sigmoid(z)``, computed in
    logs (with no lapse, a verdict far on the wrong side costs its whole log-likelihood, not a NaN)."""
    log_sig = -np.logaddexp(0.0, -z)
    if lapse == 0.0:
        return log_sig
    return np.logaddexp(np.log(lapse / 2), np.log1p(-lapse) + log_sig)


def _slopes(n: int, sharpest: float) -> np.ndarray:
    """The slopes a boundary may have over ``n`` pictures' ranks: 30 from ``SOFTEST`` to the one whose P(yes)
    goes from 0.12 to 0.88 (4 units of s (u - u0)) over ``sharpest`` pictures."""
    hi = 4.0 * n / sharpest
    return np.exp(np.linspace(np.log(min(SOFTEST, hi / 10)), np.log(hi), 30))


def probability(x: np.ndarray, curve: Mapping) -> np.ndarray:
    """The calibrated probability of scores ``x`` (linear between the curve's knots, flat beyond)."""
    return np.interp(np.asarray(x, float), curve["x"], curve["p"])


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted logistic regression of ``y`` (0/1) on one feature by Newton's method: (slope, intercept).
    The feature is standardised first, so the steps are well scaled whatever its units."""
    mu = float(np.average(x, weights=w))
    sd = float(np.sqrt(np.average((x - mu) ** 2, weights=w))) or 1.0
    z = np.stack([(x - mu) / sd, np.ones_like(x)], axis=1)
    beta = np.zeros(2)
    scale = w.sum()
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(z @ beta, -30, 30)))
        grad = z.T @ (w * (p - y)) / scale + L2 * beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z / scale + L2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(beta[0] / sd), float(beta[1] - beta[0] * mu / sd)
