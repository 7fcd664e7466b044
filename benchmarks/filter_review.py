"""The simulated reviewer: how fast human verdicts make the classifier's small/clutter decisions right.

    .venv/bin/python benchmarks/filter_review.py [--posts 4000] [--rounds 4] [--per-round 50] [--work DIR]

On the first ``--posts`` posts of sample corpus 0 (a raw store written without crawling, then the real
dedup, classifier and filter stages with params.yaml's settings): starting from tags only, each round
takes the ``--per-round`` most borderline pictures of the current decisions (score nearest the threshold
of either head, what the report shows first), answers both heads for each from the corpus truth (what
a person looking at the picture would say, with ``filter.truth``'s definitions), appends the verdicts to
the labels file, and reruns classifier + filter. Precision and recall of ``small`` and ``clutter`` are
measured against the truth on the pictures the reviewer has *not* labelled (labelled ones follow their
verdict by construction), and again over those with no pixel-rule reason (colour illustrations: where
these heads decide what is kept). Prints a table per round; then, per head and score, the errors left on
the unlabelled pictures next to those at that score's best cut chosen knowing the truth (how far the
measure itself allows, whatever the calibration); then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import load_keys  # noqa: E402
from pipeline.filter.config import FilterConfig  # noqa: E402
from pipeline.filter.decide import PIXEL_REASONS  # noqa: E402
from pipeline.filter.scoring import MEASURES, Scoring  # noqa: E402
from pipeline.filter.truth import borderline, judged, precision_recall, truth_table  # noqa: E402
from pipeline.labels import append_label, make_label  # noqa: E402
from pipeline.manifest import FILTER, read_manifest  # noqa: E402
from pipeline.samplebooru.corpus import Corpus  # noqa: E402
from pipeline.samplebooru.materialize import write_raw  # noqa: E402
from stages import classifier, dedup  # noqa: E402
from stages import filter as filter_stage  # noqa: E402

HEADS = ("small", "clutter")


def run_stages(w: Path, params: Path) -> None:
    common = ["--dedup", str(w / "dedup"), "--raw", str(w / "raw"), "--shards", str(w / "cache"),
              "--labels", str(w / "labels.csv"), "--params", str(params)]
    common += ["--scoring", str(w / "scoring.json")]
    common += ["--lines", str(w / "lines.onnx")]
    assert classifier.main(common + ["--out", str(w / "classifier.onnx"), "--metrics", str(w / "c.json")]) == 0
    assert filter_stage.main(common + ["--model", str(w / "classifier.onnx"), "--out", str(w / "filter"),
                                       "--report", str(w / "report"), "--metrics", str(w / "f.json")]) == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=4000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--per-round", type=int, default=50)
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="filter-review-"))
    work.mkdir(parents=True, exist_ok=True)  # a --work folder that is not there yet is made
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["samplebooru"]["posts"] = a.posts
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    cfg = load_keys(work / "params.yaml", "filter", FilterConfig)
    corpus = Corpus(a.posts, seed=params["samplebooru"]["seed"], progress=True)
    write_raw(corpus, work / "raw")
    assert dedup.main(["--raw", str(work / "raw"), "--out", str(work / "dedup"), "--shards", str(work / "dcache"),
                       "--report", str(work / "dreport"), "--metrics", str(work / "d.json"),
                       "--labels", str(work / "dedup_labels.csv"), "--params", str(work / "params.yaml")]) == 0
    truth = None
    labelled: set[str] = set()
    table = {"labels": [], **{h: {"precision": [], "recall": []} for h in HEADS},
             "colour": {h: {"precision": [], "recall": []} for h in HEADS}}
    for rnd in range(a.rounds + 1):
        t0 = time.time()
        run_stages(work, work / "params.yaml")
        decisions = read_manifest(FILTER.path(work / "filter"), FILTER)
        thresholds = json.loads((work / "f.json").read_text())["thresholds"]
        if truth is None:
            truth = truth_table(decisions[decisions["representative"]]["id"], corpus.truth, cfg.truth)
        ids = set(decisions[decisions["md5"].isin(labelled)]["id"])
        pr = precision_recall(decisions, truth, exclude=ids)
        grey = set(decisions[decisions["reasons"].str.split().map(lambda r: bool(set(r) & set(PIXEL_REASONS)))]["id"])
        colour = precision_recall(decisions, truth, exclude=ids | grey)  # where the heads decide
        table["labels"].append(len(labelled))
        for h in HEADS:
            for key, got in ((table[h], pr[h]), (table["colour"][h], colour[h])):
                key["precision"].append(got["precision"])
                key["recall"].append(got["recall"])
        print(f"round {rnd}: {len(labelled)} labelled, thresholds {thresholds}, "
              + ", ".join(f"{h} P {pr[h]['precision']} R {pr[h]['recall']}" for h in HEADS)
              + "; without a pixel-rule reason: "
              + ", ".join(f"{h} P {colour[h]['precision']} R {colour[h]['recall']}" for h in HEADS)
              + f" ({time.time() - t0:.0f} s)", flush=True)
        if rnd == 0:  # tags only: every reason against the truth
            print("tags only, every reason:\n| reason | precision | recall | predicted | true |\n|---|---|---|---|---|")
            for reason, v in pr.items():
                if isinstance(v, dict):
                    print(f"| {reason} | {v['precision']} | {v['recall']} | {v['predicted']} | {v['true']} |")
        if rnd == a.rounds:
            break
        picks = borderline_both(decisions, thresholds, a.per_round, labelled)
        for row in picks.itertuples():
            t = truth[truth["id"] == row.id].iloc[0]
            for h in HEADS:
                append_label(work / "labels.csv", make_label(row.id, row.md5, h, int(bool(t[h])), "simulated-reviewer"))
            labelled.add(row.md5)
    print("\n| labels | small P | small R | clutter P | clutter R | without a pixel-rule reason: small P / R | "
          "clutter P / R |\n|---|---|---|---|---|---|---|")
    for k, n in enumerate(table["labels"]):
        print(f"| {n} | " + " | ".join(str(table[h][m][k]) for h in HEADS for m in ("precision", "recall")) + " | "
              + " | ".join(" / ".join(str(table["colour"][h][m][k]) for m in ("precision", "recall"))
                           for h in HEADS) + " |")
    print("\nAfter the last round, per score: the errors on the unlabelled pictures it decides, at the calibrated"
          " threshold and at the best cut of that score chosen knowing the truth (measuring only: what the measure"
          " itself allows)\n| head | score | pictures | true | wrongly flagged / missed | at the best cut |\n"
          "|---|---|---|---|---|---|")
    for row in ceiling(decisions, truth, ids, Scoring.load(work / "scoring.json")):
        print("| " + " | ".join(str(v) for v in row) + " |")
    print(json.dumps(table))
    if a.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def ceiling(decisions: pd.DataFrame, truth: pd.DataFrame, exclude: set[int], scoring: Scoring) -> list[tuple]:
    """Per head and the score that decides its pictures (``Scoring.decided_by``): (head, score, pictures,
    true, "flagged wrongly / missed" now, the same at the score's best cut)."""
    d = judged(decisions)
    d = d[~d["id"].isin(exclude)].merge(truth, on="id", suffixes=("", "_truth"))
    decided = scoring.decided_by(d)
    rows = []
    for h in HEADS:
        for name in (*MEASURES[h], "cnn"):
            use = decided[h] == name
            if not use.any():
                continue
            x = d[name].to_numpy(float)[use] if name != "cnn" else d[f"p_{h}"].to_numpy(float)[use]
            x = -x if h == "small" and name != "cnn" else x  # higher: more likely yes
            y = d[h].to_numpy(bool)[use]
            said = d["reasons"].str.split().map(lambda r, h=h: h in r).to_numpy(bool)[use]
            rows.append((h, name, int(use.sum()), int(y.sum()), f"{int((said & ~y).sum())} / {int((~said & y).sum())}",
                         _best_cut(x, y)))
    return rows


def _best_cut(x: np.ndarray, y: np.ndarray) -> str:
    """"wrongly flagged / missed" at the cut of ``x`` (yes from it up) with the fewest errors."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    missed = np.concatenate([[0], np.cumsum(ys)])  # cut before position k: the yeses below it are missed
    wrong = np.concatenate([np.cumsum((~ys)[::-1])[::-1], [0]])
    cuts = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1], [True]]))  # never between equal scores
    k = int(cuts[np.argmin((missed + wrong)[cuts])])
    return f"{int(wrong[k])} / {int(missed[k])}"


def borderline_both(decisions, thresholds, n, skip):
    """The ``n`` pictures nearest either head's threshold, alternating between the heads."""
    per = {h: borderline(decisions, thresholds, h, n, skip) for h in HEADS}
    out, seen = [], set(skip)
    for _ in range(n):
        for h in HEADS:
            rows = per[h][~per[h]["md5"].isin(seen)]
            if len(out) < n and len(rows):
                out.append(rows.iloc[0])
                seen.add(rows.iloc[0]["md5"])
    return pd.DataFrame(out)


if __name__ == "__main__":
    sys.exit(main())
