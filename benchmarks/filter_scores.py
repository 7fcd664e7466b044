"""Which score could carry the simulated reviewer to 0.95 / 0.95: its rule replayed offline on fixed scores.

    .venv/bin/python -m benchmarks.filter_scores [--posts 3000] [--decisions data/filter/decisions.parquet]

``benchmarks/filter_review.py`` reruns the classifier and the filter every round (minutes each). This replays
only its *rule* on one fixed score per candidate, in seconds: each round the ``--per-round`` unlabelled
pictures whose score is nearest the threshold are answered from the truth and leave the measured set, and
the threshold becomes the labelled pictures' best balanced-accuracy cut (``best_cut``; the filter's own rule
until 2026-12-07, now ``pipeline.filter.calibrate``'s, which ``benchmarks/filter_review.py`` measures). Precision and recall are over the pictures not labelled, as the benchmark measures
them. The replay gives each head its own ``--per-round`` nearest pictures, where the benchmark's per-round
pictures are shared by the heads, so it is an upper bound for a score that the classifier would output.

Candidates, on the colour illustrations of the first ``--posts`` posts of the params' sample corpus (no broken
files, no re-uploads; "too small" and "too cluttered" as ``filter.truth`` defines them): the corpus's true figure scale (an oracle: what the framing tags bin), two pixel measures
(``off_border``: share of pixels off the border's median colour, 256 px; ``texture``: share of pixels whose
15 px neighbourhood's grey std is above 14, 512 px) and, with ``--decisions``, the pipeline's own
``p_small`` / ``p_clutter`` (a filter stage's output on the same corpus, e.g. the demo's), and the truth itself
off by a log-normal factor (``NOISE``): how exactly a score must measure the figure or the clutter. Each score's rank
correlation with the truth is shown overall and within the tag whose range holds the boundary (``wide_shot``,
``detailed_background``'s truth). Truth is for measuring only: nothing here feeds the pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import load_keys, load_truth_source  # noqa: E402
from pipeline.filter.config import FilterConfig  # noqa: E402
from pipeline.filter.truth import truth_table  # noqa: E402
from pipeline.samplebooru.corpus import Corpus  # noqa: E402

NOISE = (0.1, 0.2, 0.3)  # log-normal error of the noisy oracles (0.2: a figure of 1% read as 0.82% to 1.22%)


def replay(score: np.ndarray, truth: np.ndarray, rounds: int, per_round: int) -> list[tuple[int, float, float]]:
    """(labels, precision, recall) per round of the reviewer's rule on a fixed ``score`` (higher: yes)."""
    lo, hi = float(score.min()), float(score.max())
    p = (score - lo) / (hi - lo) if hi > lo else np.zeros_like(score)  # best_cut works on [0, 1]
    t = float(np.quantile(p, 1 - truth.mean()))  # the start: as many flagged as there are positives
    labelled = np.zeros(len(p), bool)
    out = []
    for rnd in range(rounds + 1):
        m, pred = ~labelled, p >= t
        tp = int((pred & truth & m).sum())
        out.append((int(labelled.sum()), round(tp / max(int((pred & m).sum()), 1), 3),
                    round(tp / max(int((truth & m).sum()), 1), 3)))
        if rnd == rounds:
            break
        gap = np.where(labelled, np.inf, np.abs(p - t))
        labelled[np.argsort(gap, kind="stable")[:per_round]] = True
        if truth[labelled].any() and not truth[labelled].all():
            t = best_cut(p[labelled], truth[labelled], t)[0]
    return out


def best_cut(p: np.ndarray, y: np.ndarray, prefer: float) -> tuple[float, float]:
    """The threshold t (predict yes when p >= t) with the best balanced accuracy on (p, y), ties nearest
    ``prefer``; and that accuracy."""
    values = np.unique(p)
    cuts = np.concatenate([[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]])
    tpr = (p[y][None, :] >= cuts[:, None]).mean(axis=1)
    tnr = (p[~y][None, :] < cuts[:, None]).mean(axis=1)
    bal = (tpr + tnr) / 2
    best = np.flatnonzero(bal >= bal.max() - 1e-12)
    pick = best[np.argmin(np.abs(cuts[best] - prefer))]
    return float(np.clip(cuts[pick], 0.0, 1.0)), float(bal[pick])


def print_header(rounds: int, per_round: int) -> None:
    print("| head | score | Spearman with the truth | within its tag | " + " | ".join(
        f"P / R at {n}" for n in range(0, (rounds + 1) * per_round, per_round)) + " |")
    print("|---|---|---|---|" + "---|" * (rounds + 1))


def score_row(head: str, name: str, score, key, within, truth, rounds: int, per_round: int) -> dict:
    """One candidate score's line of the table, printed, and its figures: Spearman with ``key`` (the
    continuous truth) overall and among ``within`` (the tag holding the boundary), then the replay."""
    score, key, within = np.asarray(score, float), np.asarray(key, float), np.asarray(within, bool)
    rho, rho_tag = float(spearmanr(score, key)[0]), float(spearmanr(score[within], key[within])[0])
    rounds_ = replay(score, np.asarray(truth, bool), rounds, per_round)
    print(f"| {head} | {name} | {rho:.3f} | {rho_tag:.3f} | " + " | ".join(f"{p} / {r}" for _, p, r in rounds_) + " |")
    return {"spearman": round(rho, 3), "spearman_within_tag": round(rho_tag, 3), "rounds": rounds_}


def measures(path: Path) -> dict[str, float]:
    """The pixel candidates of one file."""
    rgb = cv2.imread(str(path), cv2.IMREAD_COLOR)
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(w * 256 / max(h, w))), max(1, round(h * 256 / max(h, w)))),
                       interpolation=cv2.INTER_AREA).astype(np.int16)
    border = np.concatenate([small[0], small[-1], small[:, 0], small[:, -1]])
    off = float((np.abs(small - np.median(border, axis=0)).max(axis=2) > 20).mean())
    grey = cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY)
    grey = cv2.resize(grey, (round(w * 512 / max(h, w)), round(h * 512 / max(h, w))),
                      interpolation=cv2.INTER_AREA).astype(np.float32)
    var = cv2.blur(grey * grey, (15, 15)) - cv2.blur(grey, (15, 15)) ** 2
    return {"off_border": off, "texture": float((var > 200).mean())}


def table(corpus: Corpus, cfg: FilterConfig, decisions: Path | None) -> pd.DataFrame:
    rows = []
    for post in corpus.posts:
        t = corpus.truth(post.id)
        if t.tone != "color" or t.layout != "illustration" or t.broken or t.transform:
            continue
        rows.append({"id": post.id, "char_area": t.char_area, "char_scale": t.char_scale, "clutter_truth": t.clutter,
                     "wide_shot": t.framing == "wide_shot", "detailed": t.background == "detailed",
                     **measures(corpus.file_path(post.id))})
    df = pd.DataFrame(rows)
    heads = truth_table(df["id"], corpus.truth, cfg.truth)[["id", "small", "clutter"]]  # filter.truth's cuts
    df = df.merge(heads, on="id")
    if decisions is not None:
        d = pd.read_parquet(decisions)
        d = d[d["representative"] & d["p_small"].notna()][["id", "p_small", "p_clutter"]]
        df = df.merge(d, on="id")  # the pictures the filter scored: dedup representatives it could decode
    return df


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=3000)
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml", help="samplebooru.seed, filter.truth")
    ap.add_argument("--decisions", type=Path, default=None, help="a filter stage's decisions.parquet")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--per-round", type=int, default=50)
    a = ap.parse_args()
    cfg = load_keys(a.params, "filter", FilterConfig)
    corpus = Corpus(a.posts, seed=load_truth_source(a.params).seed, progress=True)
    df = table(corpus, cfg, a.decisions)
    candidates = {"small": {"truth char_scale (oracle)": -df["char_scale"], "pixels off_border": -df["off_border"]},
                  "clutter": {"pixels texture": df["texture"]}}
    rng = np.random.default_rng(0)
    for sigma in NOISE:  # how exactly a score must measure: the truth itself, off by a log-normal factor
        noise = rng.normal(0.0, sigma, (2, len(df)))
        candidates["small"][f"truth char_area, noise {sigma} (oracle)"] = -np.log(df["char_area"]) + noise[0]
        candidates["clutter"][f"truth clutter, noise {sigma} (oracle)"] = np.log(df["clutter_truth"] + 1e-3) + noise[1]
    if "p_small" in df:
        candidates["small"]["pipeline p_small"] = df["p_small"]
        candidates["clutter"]["pipeline p_clutter"] = df["p_clutter"]
    report = {"pictures": len(df), "positives": {h: int(df[h].sum()) for h in candidates}}
    truth_of = {"small": -df["char_area"], "clutter": df["clutter_truth"]}
    within = {"small": df["wide_shot"], "clutter": df["detailed"]}  # the tag whose range holds the boundary
    print(f"{len(df)} colour illustrations; positives: {report['positives']}")
    print_header(a.rounds, a.per_round)
    for head, scores in candidates.items():
        for name, s in scores.items():
            report[f"{head}: {name}"] = score_row(head, name, s, truth_of[head], within[head], df[head], a.rounds,
                                                  a.per_round)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
