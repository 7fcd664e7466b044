"""The simulated reviewer replayed on the measures one run saved: many reviewers in seconds.

    .venv/bin/python -m benchmarks.filter_replay --work DIR [--samples 30] [--share 0.9] [--rounds 4] [--per-round 50]

Why: the palette's and the line figure's measures do not depend on the verdicts, only their calibrations
do. So the rounds of ``benchmarks/filter_review.py`` can be replayed on the measures its ``--work DIR``
saved (``DIR/filter``, the posts' tags in ``DIR/raw``), refitting only the calibrations, with this
checkout's ``filter.calibration`` (params.yaml: a new rule, say) and the same choice of pictures. One
run's last row moves by several points with which pictures a round happens to bring. The replay runs the
reviewer on all the pictures (with the run's own params it gives the run's own table: a check), then on
``--samples`` random ``--share`` of them, and prints, per head, the mean precision and recall on the
pictures it did not label, the mean errors ("flagged wrongly / missed") per score, and in how many runs
the head met 0.95 / 0.95. It refuses a run where a picture is scored by the CNN (which learns from the
verdicts, so its scores would change). The truth is for measuring only, as in the run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.filter_review import HEADS, borderline_both  # noqa: E402
from pipeline.config import load_keys  # noqa: E402
from pipeline.filter.calibrate import weak_labels  # noqa: E402
from pipeline.filter.config import ClassifierConfig, TruthParams  # noqa: E402
from pipeline.filter.scoring import fit_scoring  # noqa: E402
from pipeline.filter.truth import judged, truth_table  # noqa: E402
from pipeline.manifest import FILTER, RAW_POSTS, read_manifest  # noqa: E402
from pipeline.samplebooru.corpus import Corpus  # noqa: E402

TARGET = 0.95


def pictures(work: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the pictures the classifier calibrates on, with their tags and whether the filter judges them; the
    truth of each) from a ``filter_review --work`` folder."""
    decisions = read_manifest(FILTER.path(work / "filter"), FILTER)
    rows = decisions[decisions["representative"] & decisions["decoded_as"].notna()].copy()
    rows["judged"] = rows["id"].isin(set(judged(decisions)["id"]))
    posts = read_manifest(RAW_POSTS.path(work / "raw"), RAW_POSTS)[["id", "tags"]]
    rows = rows.merge(posts, on="id", how="left").sort_values("md5", kind="stable").reset_index(drop=True)
    params = yaml.safe_load((work / "params.yaml").read_text())  # the run's: its corpus and its truth
    sample, defined = params["samplebooru"], TruthParams(**params["filter"]["truth"])
    truth = truth_table(rows["id"], Corpus(sample["posts"], seed=sample["seed"]).truth, defined)
    return rows, rows[["id"]].merge(truth, on="id", how="left")


def replay(rows: pd.DataFrame, truth: pd.DataFrame, cfg: ClassifierConfig, rounds: int, per_round: int) -> dict:
    """One reviewer on ``rows``: per head, after the last round, precision, recall and per score
    (flagged wrongly, missed) on the judged pictures it did not label."""
    weak = weak_labels(rows["tags"], cfg.weak)
    human = np.full((len(rows), len(HEADS)), np.nan)
    labelled: set[str] = set()
    cnn = np.full((len(rows), len(HEADS)), np.nan)  # never read: refused below where it would be
    for rnd in range(rounds + 1):
        scoring = fit_scoring(None, rows, cnn, weak, human, cfg.calibration)
        by = scoring.decided_by(rows)
        if any((by[h][rows["judged"].to_numpy()] == "cnn").any() for h in HEADS):
            raise SystemExit("a judged picture is scored by the CNN, which learns from the verdicts: no replay")
        probs = scoring.probabilities(rows, cnn)
        if rnd == rounds:
            break
        scored = rows.assign(**{f"p_{h}": probs[f"p_{h}"] for h in HEADS})
        for row in borderline_both(scored, scoring.thresholds, per_round, labelled).itertuples():
            i = int(np.flatnonzero(rows["md5"].to_numpy() == row.md5)[0])
            human[i] = [float(truth[h].iat[i]) for h in HEADS]
            labelled.add(row.md5)
    use = rows["judged"].to_numpy() & ~rows["md5"].isin(labelled).to_numpy()
    out = {}
    for h in HEADS:
        said, y = probs[f"p_{h}"].to_numpy() >= scoring.threshold, truth[h].to_numpy(bool)
        tp = int((said & y & use).sum())
        out[h] = {"precision": tp / max(1, int((said & use).sum())), "recall": tp / max(1, int((y & use).sum())),
                  "scores": {name: (int((said & ~y & use & (by[h] == name)).sum()),
                                    int((~said & y & use & (by[h] == name)).sum())) for name in np.unique(by[h])}}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a benchmarks/filter_review.py --work folder")
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml", help="whose filter.calibration to replay")
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--share", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--per-round", type=int, default=50)
    a = ap.parse_args()
    cfg = load_keys(a.params, "filter", ClassifierConfig)
    rows, truth = pictures(a.work)
    rng = np.random.default_rng(a.seed)
    runs = []
    for k in range(a.samples + 1):
        keep = np.ones(len(rows), bool) if k == 0 else rng.random(len(rows)) < a.share
        got = replay(rows[keep].reset_index(drop=True), truth[keep].reset_index(drop=True), cfg, a.rounds,
                     a.per_round)
        if k == 0:
            print("all the pictures: " + ", ".join(f"{h} P {got[h]['precision']:.4f} R {got[h]['recall']:.4f}"
                                                   for h in HEADS), flush=True)
        else:
            runs.append(got)
    print(f"\n{a.samples} reviewers on random {a.share:.0%} of the pictures, after {a.rounds * a.per_round} labels:"
          "\n| head | precision (mean) | recall (mean) | met 0.95 / 0.95 | errors per score: flagged wrongly / missed "
          "(mean) |\n|---|---|---|---|---|")
    for h in HEADS:
        p, r = (np.array([g[h][m] for g in runs]) for m in ("precision", "recall"))
        names = sorted({n for g in runs for n in g[h]["scores"]})
        errs = ", ".join(f"{n} {np.mean([g[h]['scores'].get(n, (0, 0))[0] for g in runs]):.1f} / "
                         f"{np.mean([g[h]['scores'].get(n, (0, 0))[1] for g in runs]):.1f}" for n in names)
        print(f"| {h} | {p.mean():.3f} | {r.mean():.3f} | {int(((p >= TARGET) & (r >= TARGET)).sum())} of "
              f"{len(runs)} | {errs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
