"""Leakage between splits, measured from the hashes, not only from the groups the assignment used.

Two ways a test picture can have been seen in training: its dedup group (duplicate cluster or parent/child
family) also has a picture in another split, or a picture of another split lies within the dedup pHash
radius of it. Both are counted here from the manifest's splits and the saved pHashes alone, so the check
does not trust the code that made the groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.dedup.cluster import hex_to_u64
from pipeline.dedup.search import near_pairs, unique_codes


def near_code_pairs(phash_hex: pd.Series, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each picture's code index, and the pairs (i < j) of distinct codes within ``radius`` bits."""
    uniq, code = unique_codes(hex_to_u64(phash_hex.tolist()))
    i, j, _ = near_pairs(uniq, radius)
    return code, i, j


def near_picture_edges(phash_hex: pd.Series, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges (positions) that connect every two pictures whose pHashes are within ``radius`` bits."""
    code, i, j = near_code_pairs(phash_hex, radius)
    if not len(code):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    anchor = np.full(code.max() + 1, -1, np.int64)
    anchor[code[::-1]] = np.arange(len(code))[::-1]  # the first picture of each code
    same = anchor[code] != np.arange(len(code))
    a = np.r_[np.flatnonzero(same), anchor[i]]
    b = np.r_[anchor[code[same]], anchor[j]]
    return a.astype(np.int64), b.astype(np.int64)


def leak_report(split: pd.Series, dedup_group: pd.Series, phash_hex: pd.Series, radius: int) -> dict:
    """Counts of leaks (all must be 0) for pictures with their ``split``, dedup ``split_group`` and pHash."""
    split, dedup_group, phash_hex = (s.reset_index(drop=True) for s in (split, dedup_group, phash_hex))
    per_group = pd.DataFrame({"g": dedup_group, "s": split}).groupby("g")["s"].nunique()
    code, i, j = near_code_pairs(phash_hex, radius)
    per_code = pd.DataFrame({"c": code, "s": split}).groupby("c")["s"].agg(lambda s: tuple(sorted(set(s))))
    splits_of = per_code.reindex(range(code.max() + 1 if len(code) else 0))
    crossing = [a for a, b in zip(splits_of.iloc[i].tolist(), splits_of.iloc[j].tolist(), strict=True)
                if a != b or len(a) > 1]
    return {
        "groups_across_splits": int((per_group > 1).sum()),
        "same_hash_across_splits": int((per_code.map(len) > 1).sum()),
        "near_pairs_across_splits": len(crossing),
        "near_pairs_checked": int(len(i)),
        "phash_radius": radius,
    }
