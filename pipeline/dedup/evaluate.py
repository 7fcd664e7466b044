"""Pair precision and recall of a clustering against ground-truth groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.dedup.cluster import hex_to_u64


def _pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def pair_scores(predicted, truth) -> dict[str, float | int]:
    """Precision and recall of the *pairs* put together by ``predicted`` labels against ``truth`` labels.

    A pair counts as predicted when both items share a predicted label, as true when they share a truth
    label. Counted from group sizes, so it is linear in the number of items.
    """
    df = pd.DataFrame({"p": np.asarray(predicted), "t": np.asarray(truth)})
    tp = _pairs(df.groupby(["p", "t"]).size().to_numpy())
    pred = _pairs(df.groupby("p").size().to_numpy())
    true = _pairs(df.groupby("t").size().to_numpy())
    return {
        "precision": tp / pred if pred else 1.0, "recall": tp / true if true else 1.0,
        "true_pairs": true, "predicted_pairs": pred, "correct_pairs": tp,
    }


def truth_metrics(images: pd.DataFrame, dup_group_of) -> dict[str, float | int]:
    """``truth.*`` of the dedup stage: pair precision and recall of its clusters against the sample corpus's
    duplicate groups (``dup_group_of(post_id)``), over the posts whose file decodes (a broken file is no
    drawing to match). Measuring only: nothing here feeds a decision."""
    ok = images[images["status"] == "ok"]
    scores = pair_scores(ok["cluster"], [dup_group_of(int(i)) for i in ok["id"]])
    return {"posts": len(ok), **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()}}


def _u64(hexes: pd.Series) -> np.ndarray:
    """``cluster.hex_to_u64``, with 0 for the empty codes of files that have none."""
    return hex_to_u64(hexes.replace("", "0" * 16))


def by_transform(images: pd.DataFrame, hashes: pd.DataFrame, pairs: pd.DataFrame, truth_of) -> dict:
    """Per re-upload kind of the sample corpus: how many re-uploads were joined to their first drawing, and
    the largest distance each path's code reaches between them (to read against its radius; trimmed: over
    the pairs where both had margins to trim); and the
    accepted pairs that join different drawings, by the path that accepted them. ``truth_of(post_id)`` is
    the corpus's ``Truth``. Measuring only."""
    ok = images[images["status"] == "ok"].set_index("id")
    h = hashes.set_index("md5")
    truths = {int(i): truth_of(int(i)) for i in ok.index}
    first = {}
    for i, t in truths.items():
        if t.transform is None:
            first.setdefault(t.dup_group, i)
    rows = [(i, first[t.dup_group], t.transform) for i, t in truths.items()
            if t.transform is not None and t.dup_group in first]
    out: dict = {}
    if rows:
        df = pd.DataFrame(rows, columns=["id", "orig", "kind"])
        ha, hb = h.loc[ok.loc[df["id"], "md5"]], h.loc[ok.loc[df["orig"], "md5"]]
        dist = {"phash": np.bitwise_count(_u64(ha["phash"]) ^ _u64(hb["phash"]))}
        both = (ha["trim_phash"].to_numpy(object) != "") & (hb["trim_phash"].to_numpy(object) != "")
        dist["trim_phash"] = np.where(both, np.bitwise_count(_u64(ha["trim_phash"]) ^ _u64(hb["trim_phash"])).astype(np.int64), -1)
        dist["mirror"] = np.bitwise_count(_u64(ha["phash_mirror"]) ^ _u64(hb["phash"]))
        wa = np.stack([np.frombuffer(w, ">u8").astype(np.uint64) for w in ha["windows"]])
        wb = np.stack([np.frombuffer(w, ">u8").astype(np.uint64) for w in hb["windows"]])
        dist["window"] = np.minimum(np.bitwise_count(wa[:, 1:] ^ wb[:, :1]).min(axis=1),
                                    np.bitwise_count(wb[:, 1:] ^ wa[:, :1]).min(axis=1))
        df["joined"] = ok.loc[df["id"], "cluster"].to_numpy() == ok.loc[df["orig"], "cluster"].to_numpy()
        for c, d in dist.items():
            df[c] = d.astype(np.int64)
        for kind, g in df.groupby("kind"):
            out[str(kind)] = {"reuploads": len(g), "joined": int(g["joined"].sum()),
                              "recall": round(float(g["joined"].mean()), 4),
                              **{f"max_{c}": int(g[c].max()) for c in dist}}  # -1: no such pair
    group_of = {r.md5: truths[int(i)].dup_group for i, r in ok.iterrows()}
    acc = pairs[pairs["accepted"]]
    wrong = [k for a, b, k in zip(acc["md5_a"], acc["md5_b"], acc["kind"], strict=True)
             if a in group_of and b in group_of and group_of[a] != group_of[b]]
    return {"kinds": out, "false_pairs_by_path": {k: wrong.count(k) for k in sorted(set(wrong))}}


def sample_truth(images: pd.DataFrame, hashes: pd.DataFrame, pairs: pd.DataFrame, truth_of, mirror: bool) -> dict:
    """The dedup stage's ``truth`` metrics on the sample corpus: pair precision and recall (a mirrored copy
    is a duplicate only when ``mirror``, as the search is told) and ``by_transform``."""
    def group(pid: int) -> int:
        t = truth_of(pid)
        return -pid if t.transform == "mirror" and not mirror else t.dup_group
    return truth_metrics(images, group) | by_transform(images, hashes, pairs, truth_of)
