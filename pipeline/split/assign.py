"""Which split each picture goes to: per group, never per picture, stable as posts are added.

A *group* is what must stay on one side: dedup's ``split_group`` (a duplicate cluster and its parent/child
family together), joined with every pair of kept pictures whose pHashes lie within the dedup search radius
(a near-identical layout that dedup's finer check kept apart is still kept on one side: a test set must not
hold a near copy of a training picture). A group's key is its smallest post id.

Groups are assigned in ascending key order. Each goes to the split furthest behind its ratio *within the
group's stratum* (its main character), among the splits that stay no more than half a group behind overall
once it is counted (else to the split furthest behind overall); ties are broken by a hash of the seed and
the key. So

- every split stays within one group's size of its ratio of pictures, at every prefix of the key order
  (each split is at least half the largest group behind, and the shortfalls add up to zero), and each
  character is spread over the splits in about the same ratios;
- a group's split depends only on the groups with smaller keys: booru ids grow, so the posts a later crawl
  adds (newer, higher ids) never move an existing group, and a new post that joins an old group (a
  re-upload of an old drawing) takes that group's split;
- the splits interleave over the id range, so each spans the whole crawl period.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.split.config import SPLITS, Ratios


def leak_groups(ids: np.ndarray, split_group: np.ndarray, near_a: np.ndarray, near_b: np.ndarray) -> np.ndarray:
    """Each picture's group key: the least id of its component under dedup groups and near pairs.

    ``near_a``/``near_b`` are positions (into ``ids``) of pictures within the pHash radius of each other.
    """
    n = len(ids)
    if n == 0:
        return np.zeros(0, np.int64)
    _, by_group = np.unique(split_group, return_inverse=True)
    first = np.full(by_group.max() + 1, -1, np.int64)  # one picture of each dedup group as its anchor
    order = np.arange(n)[::-1]
    first[by_group[order]] = order
    a = np.r_[np.arange(n), near_a]
    b = np.r_[first[by_group], near_b]
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    labels = connected_components(graph, directed=False)[1]
    least = np.full(labels.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(least, labels, ids)
    return least[labels]


def _tie(seed: int, key: int) -> int:
    return int.from_bytes(hashlib.sha1(f"{seed}:{key}".encode()).digest()[:8], "big")


def assign(groups: pd.Series, strata: pd.Series, ratios: Ratios, seed: int) -> pd.Series:
    """The split of each picture (``groups``: picture -> group key; ``strata``: picture -> its stratum)."""
    frame = pd.DataFrame({"group": groups, "stratum": strata})
    per = frame.groupby("group", sort=True).agg(size=("stratum", "size"), stratum=("stratum", "first"))
    target = np.array([ratios.of(s) for s in SPLITS])
    counts, total, largest = np.zeros(len(SPLITS)), 0, 0
    by_stratum: dict[object, np.ndarray] = {}
    chosen: dict[int, str] = {}
    for key, size, stratum in zip(per.index.tolist(), per["size"].tolist(), per["stratum"].tolist(), strict=True):
        total, largest = total + size, max(largest, size)
        seen = by_stratum.setdefault(stratum, np.zeros(len(SPLITS) + 1))  # counts per split, then the total
        seen[-1] += size
        behind = target * total - counts  # how far each split would be short if the group went elsewhere
        fits = behind - size >= -largest / 2
        score = np.where(fits, target * seen[-1] - seen[:-1], -np.inf) if fits.any() else behind
        best = np.flatnonzero(np.isclose(score, score.max(), rtol=0, atol=1e-9))
        if len(best) > 1:  # equal within the stratum: the split furthest behind overall, then the hash
            best = best[np.isclose(behind[best], behind[best].max(), rtol=0, atol=1e-9)]
        k = best[0] if len(best) == 1 else best[_tie(seed, key) % len(best)]
        counts[k] += size
        seen[k] += size
        chosen[key] = SPLITS[k]
    return groups.map(chosen)
