"""Human pair verdicts in clustering: ``same`` is a must-link, ``different`` a cannot-link.

Clusters are connected components, so a cannot-link between two files is only kept if *no chain* of
accepted edges joins them, not just their own edge. The rule, applied on the unit graph (files with
identical hashes are one unit; ``cluster``):

1. A file named in a ``different`` verdict is a unit of its own (``split_files``): an identical-hash
   copy is then an ordinary edge of distance 0, which the rule below can refuse like any other.
2. A ``same`` verdict adds an edge between its two files' units (``join_kind == "label"``).
3. Components with no cannot-link pair inside them are left exactly as they are.
4. Inside a component that has one, the edges are added again one at a time, strongest first: the
   reviewer's must-links, then accepted pairs by (pHash bits, dHash bits, -thumbnail correlation). An
   edge that would join two groups holding the two ends of a cannot-link is refused (Kruskal's order with
   constraints), so it is the *weakest* links of a chain that go, and a must-link that contradicts a
   cannot-link (directly or through other must-links) is refused too: a "different" always wins.

Verdicts on files that are not readable (or not in this run) are ignored and counted
(``verdict_metrics``). With no verdicts, nothing here runs: the outputs are byte-identical.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.dedup.graph import components
from pipeline.dedup.search import hamming


def split_files(verdicts: Mapping[tuple[str, str], str]) -> set[str]:
    """The files that must be units of their own: those named in a ``different`` verdict."""
    return {md5 for pair, v in verdicts.items() if v == "different" for md5 in pair}


def honour(files: pd.Index, of_file: np.ndarray, phash: np.ndarray, dhash: np.ndarray, edges: pd.DataFrame,
           verdicts: Mapping[tuple[str, str], str]) -> pd.DataFrame:
    """The edges to cluster on: accepted unit pairs ``edges`` (a, b, phash_distance, dhash_distance,
    thumb_corr, ...) less the refused ones, plus the must-links; a ``label`` column tells them apart.

    ``files`` are the readable files' md5s (sorted) and ``of_file`` their units; ``phash``/``dhash`` per unit.
    """
    ma, mb = _unit_pairs(files, of_file, verdicts, "same")
    ca, cb = _unit_pairs(files, of_file, verdicts, "different")
    keep_same = ma != mb  # two files of one unit are joined already
    ma, mb = ma[keep_same], mb[keep_same]
    must = pd.DataFrame({"a": np.minimum(ma, mb), "b": np.maximum(ma, mb),
                         "phash_distance": hamming(phash[ma], phash[mb]).astype(np.int64),
                         "dhash_distance": hamming(dhash[ma], dhash[mb]).astype(np.int64),
                         "thumb_corr": np.nan, "aspect_change": np.nan, "accepted": True, "label": True})
    must = must.sort_values(["a", "b"], kind="stable")
    machine = edges.assign(label=False, _neg=-edges["thumb_corr"]).sort_values(
        ["phash_distance", "dhash_distance", "_neg", "a", "b"], kind="stable").drop(columns="_neg")
    ordered = pd.concat([must, machine], ignore_index=True) if len(must) else machine.reset_index(drop=True)
    keep = _constrained(len(phash), ordered["a"].to_numpy(np.int64), ordered["b"].to_numpy(np.int64), ca, cb)
    return ordered[keep].reset_index(drop=True)


def _unit_pairs(files: pd.Index, of_file: np.ndarray, verdicts: Mapping[tuple[str, str], str],
                kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Units of the pairs with verdict ``kind`` whose two files are both readable, in md5 order."""
    pairs = sorted(p for p, v in verdicts.items() if v == kind)
    pa = files.get_indexer([p[0] for p in pairs]) if pairs else np.zeros(0, np.int64)
    pb = files.get_indexer([p[1] for p in pairs]) if pairs else np.zeros(0, np.int64)
    found = (pa >= 0) & (pb >= 0)
    return of_file[pa[found]].astype(np.int64), of_file[pb[found]].astype(np.int64)


def _constrained(n: int, a: np.ndarray, b: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """Which edges (in priority order) to keep so that no cannot-link pair ``ca[i] - cb[i]`` is connected."""
    keep = np.ones(len(a), bool)
    comp = components(n, a, b)
    clash = comp[ca] == comp[cb]
    if not clash.any():
        return keep
    hot = np.isin(comp, np.unique(comp[ca[clash]]))
    parent: dict[int, int] = {}
    forbid: dict[int, set[int]] = {}
    for x, y in zip(ca[clash].tolist(), cb[clash].tolist(), strict=True):
        forbid.setdefault(x, set()).add(y)
        forbid.setdefault(y, set()).add(x)

    def root(x: int) -> int:
        r = x
        while parent.get(r, r) != r:
            r = parent[r]
        while x != r:  # path compression
            parent[x], x = r, parent[x]
        return r

    for i in np.flatnonzero(hot[a]).tolist():  # an edge's two ends share a component
        rx, ry = root(int(a[i])), root(int(b[i]))
        if rx == ry:
            continue
        if ry in forbid.get(rx, ()):
            keep[i] = False
            continue
        parent[ry] = rx
        for z in forbid.pop(ry, set()):  # ry's cannot-links are rx's now
            forbid[z].discard(ry)
            forbid[z].add(rx)
            forbid.setdefault(rx, set()).add(z)
    return keep


def verdict_metrics(images: pd.DataFrame, verdicts: Mapping[tuple[str, str], str]) -> dict[str, int]:
    """How the verdicts came out in the clusters (DEDUP rows): honoured, refused, or about absent files."""
    ok = images[images["status"] == "ok"]
    cluster = dict(zip(ok["md5"], ok["cluster"], strict=False))
    out = {"same": 0, "same_honoured": 0, "different": 0, "different_honoured": 0, "ignored": 0}
    for (a, b), v in sorted(verdicts.items()):
        if a not in cluster or b not in cluster:
            out["ignored"] += 1
            continue
        out[v] += 1
        out[f"{v}_honoured"] += int((cluster[a] == cluster[b]) == (v == "same"))
    return out
