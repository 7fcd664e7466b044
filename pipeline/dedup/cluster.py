"""Searching: saved hashes become duplicate clusters, kept representatives and parent/child families.

Works from the hashes alone (``data/dedup/hashes.parquet``), so a new threshold re-searches in seconds
without decoding a picture again.

1. Files with the same md5 are one file (exact duplicates, ``join_kind == "exact"``).
2. Files with the same (pHash, dHash) are one *unit* (``same_hash``): collapsing them first keeps a
   thousand copies of a blank picture from becoming half a million pairs.
3. Candidate pairs: units whose pHashes are within ``phash_radius``, from the exact multi-index search
   (``search.near_pairs``), never all pairs.
4. The finer check: a candidate is a duplicate only if its dHash distance is within ``dhash_radius``,
   its 12x12 greyscale thumbnails correlate at ``min_thumb_corr`` or more, and its aspect ratios differ
   by at most ``max_aspect_change`` (log ratio; a crop of 2-6% a side changes it by < 0.09). pHash alone
   cannot separate a re-upload from a different picture of the same layout (a small figure on a white
   canvas hashes within 6 bits of another); the thumbnail correlation, centred and scaled, can.
5. Union-find over accepted pairs gives the clusters; each keeps one post by ``KEEP_ORDER``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.dedup.hashing import THUMB_SIZE, thumb_correlation
from pipeline.dedup.search import hamming, near_pairs

# The kept representative of a cluster is the first under this order; keep_reason names the first
# criterion that separates it from the runner-up (for the others: from the representative).
KEEP_ORDER = ("largest_resolution", "lossless", "higher_score", "lower_id")


@dataclass(frozen=True)
class SearchParams:
    phash_radius: int = 8
    dhash_radius: int = 12
    min_thumb_corr: float = 0.95
    max_aspect_change: float = 0.1
    backend: str = "mih"
    threads: int | None = None


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving; the root of a set is its smallest member."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))], dtype=np.int64)


def hex_to_u64(values) -> np.ndarray:
    """16-hex-digit strings to uint64."""
    vals = list(values)
    if not vals:
        return np.zeros(0, np.uint64)
    return np.frombuffer(bytes.fromhex("".join(vals)), dtype=">u8").astype(np.uint64)


def candidate_pairs(phash: np.ndarray, dhash: np.ndarray, thumbs: np.ndarray, log_aspect: np.ndarray,
                    params: SearchParams) -> pd.DataFrame:
    """Pairs ``a < b`` of distinct units within ``phash_radius`` on pHash, judged by dHash and thumbnails.

    Returns columns a, b (unit positions), phash_distance, dhash_distance, thumb_corr, aspect_change,
    accepted.
    """
    n = len(phash)
    cols = ["a", "b", "phash_distance", "dhash_distance", "thumb_corr", "aspect_change", "accepted"]
    if n < 2:
        return _empty(cols)
    uniq, inv = np.unique(phash, return_inverse=True)
    inv = inv.reshape(-1)
    members = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[members], np.arange(len(uniq) + 1))
    a_list, b_list = [], []
    # units that share a pHash (distance 0) but not a dHash
    sizes = np.diff(bounds)
    for u in np.flatnonzero(sizes > 1):
        m = members[bounds[u]:bounds[u + 1]]
        ia, ib = np.triu_indices(len(m), 1)
        a_list.append(m[ia])
        b_list.append(m[ib])
    pi, pj, _ = near_pairs(uniq, params.phash_radius, params.backend, params.threads)
    if len(pi):
        si, sj = sizes[pi], sizes[pj]
        if (si == 1).all() and (sj == 1).all():
            a_list.append(members[bounds[pi]])
            b_list.append(members[bounds[pj]])
        else:
            for x, y in zip(pi.tolist(), pj.tolist(), strict=True):
                mx, my = members[bounds[x]:bounds[x + 1]], members[bounds[y]:bounds[y + 1]]
                a_list.append(np.repeat(mx, len(my)))
                b_list.append(np.tile(my, len(mx)))
    if not a_list:
        return _empty(cols)
    a, b = np.concatenate(a_list).astype(np.int64), np.concatenate(b_list).astype(np.int64)
    a, b = np.minimum(a, b), np.maximum(a, b)
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    dp = hamming(phash[a], phash[b])
    dd = hamming(dhash[a], dhash[b])
    corr = thumb_correlation(thumbs[a], thumbs[b])
    aspect = np.round(np.abs(log_aspect[a] - log_aspect[b]), 4)
    accepted = ((dd <= params.dhash_radius) & (corr >= params.min_thumb_corr)
                & (aspect <= params.max_aspect_change))
    return pd.DataFrame({"a": a, "b": b, "phash_distance": dp, "dhash_distance": dd, "thumb_corr": corr,
                         "aspect_change": aspect, "accepted": accepted})


def _empty(cols: list[str]) -> pd.DataFrame:
    dtypes = {"accepted": bool, "thumb_corr": np.float64, "aspect_change": np.float64}
    return pd.DataFrame({c: np.zeros(0, dtypes.get(c, np.int64)) for c in cols})


def _keep_key(area: int, lossless: bool, score, pid: int) -> tuple:
    s = -1 if score is None or pd.isna(score) else int(score)
    return (-area, not lossless, -s, pid)


def _deciding(a: tuple, b: tuple) -> str:
    for name, x, y in zip(KEEP_ORDER, a, b, strict=True):
        if x != y:
            return name
    return KEEP_ORDER[-1]


def families(ids: np.ndarray, parent_ids: np.ndarray) -> dict[int, int]:
    """Parent/child family of each post: the smallest id (present or referenced) in its component."""
    nodes = sorted(set(ids.tolist()) | {p for p in parent_ids.tolist() if p})
    pos = {v: i for i, v in enumerate(nodes)}
    uf = UnionFind(len(nodes))
    for i, p in zip(ids.tolist(), parent_ids.tolist(), strict=True):
        if p:
            uf.union(pos[i], pos[p])
    return {i: nodes[uf.find(pos[i])] for i in ids.tolist()}


def dedup(posts: pd.DataFrame, hashes: pd.DataFrame, params: SearchParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cluster the posts of ``posts`` (RAW_POSTS) given their files' ``hashes`` (DEDUP_HASHES).

    Returns ``(images, pairs)`` in the DEDUP and DEDUP_PAIRS schemas: one row per post, one per
    candidate pair.
    """
    posts = posts.sort_values("id", kind="stable").reset_index(drop=True)
    fetched = (posts["status"] == "ok").to_numpy()
    h = hashes[hashes["md5"].isin(posts.loc[fetched, "md5"])].set_index("md5")  # only files these posts use
    rows = pd.DataFrame({"id": posts["id"].astype(np.int64), "md5": posts["md5"], "path": posts["path"]})
    hrow = h.reindex(posts["md5"].where(fetched, None))
    hstatus = hrow["status"].fillna("unreadable").to_numpy()
    status = np.where(~fetched, "not_fetched", np.where(hstatus == "ok", "ok", "unreadable"))
    reason = np.where(~fetched, "crawl:" + posts["reason"].fillna("").astype(str),
                      np.where(status == "ok", "", hrow["reason"].fillna("missing").to_numpy()))
    rows["status"], rows["reason"] = status, reason
    rows["exact_hash"] = hrow["exact_hash"].fillna("").to_numpy()
    ok = status == "ok"
    rows["width"] = np.where(ok, hrow["width"].fillna(0).to_numpy(), 0).astype(np.int64)
    rows["height"] = np.where(ok, hrow["height"].fillna(0).to_numpy(), 0).astype(np.int64)
    rows["lossless"] = np.where(ok, hrow["lossless"].fillna(False).to_numpy(), False).astype(bool)
    rows["phash"] = np.where(ok, hrow["phash"].fillna("").to_numpy(), "")
    rows["dhash"] = np.where(ok, hrow["dhash"].fillna("").to_numpy(), "")

    # units: distinct (pHash, dHash, thumbnail) among the readable files
    ok_files = h[h["status"] == "ok"].sort_index()
    unit_key = ok_files["phash"] + ok_files["dhash"] + ok_files["thumb"].map(bytes.hex)
    ukeys, file_unit = np.unique(unit_key.to_numpy(), return_inverse=True)
    unit_of_file = dict(zip(ok_files.index, file_unit.reshape(-1).tolist(), strict=True))
    uph = hex_to_u64([k[:16] for k in ukeys])
    udh = hex_to_u64([k[16:32] for k in ukeys])
    uth = np.frombuffer(bytes.fromhex("".join(k[32:] for k in ukeys)), np.uint8).reshape(-1, THUMB_SIZE**2)
    first_file = np.unique(file_unit.reshape(-1), return_index=True)[1]  # files are in md5 order
    unit_md5 = ok_files.index.to_numpy()[first_file]
    log_aspect = np.log(ok_files["width"].to_numpy(np.float64)[first_file]
                        / ok_files["height"].to_numpy(np.float64)[first_file])
    cand = candidate_pairs(uph, udh, uth, log_aspect, params)
    pairs = pd.DataFrame({
        "md5_a": unit_md5[cand["a"].to_numpy()] if len(cand) else [],
        "md5_b": unit_md5[cand["b"].to_numpy()] if len(cand) else [],
        "phash_distance": cand["phash_distance"], "dhash_distance": cand["dhash_distance"],
        "thumb_corr": cand["thumb_corr"], "aspect_change": cand["aspect_change"],
        "accepted": cand["accepted"],
    })
    pairs = pairs.sort_values(["md5_a", "md5_b"], kind="stable").reset_index(drop=True)

    # union-find over posts: same file, same unit, accepted unit pairs; unreadable ones by md5 only
    n = len(rows)
    uf = UnionFind(n)
    first_by_md5: dict[str, int] = {}
    first_by_unit: dict[int, int] = {}
    unit_posts: dict[int, list[int]] = {}
    for k, (md5, is_ok, is_fetched) in enumerate(zip(rows["md5"], ok, fetched, strict=True)):
        if not is_fetched:
            continue
        if md5 in first_by_md5:
            uf.union(first_by_md5[md5], k)
        else:
            first_by_md5[md5] = k
        if is_ok:
            u = unit_of_file[md5]
            unit_posts.setdefault(u, []).append(k)
            if u in first_by_unit:
                uf.union(first_by_unit[u], k)
            else:
                first_by_unit[u] = k
    best_edge: dict[int, tuple[int, int, int]] = {}  # unit -> (pHash d, dHash d, neighbour unit)
    acc = cand[cand["accepted"]]
    ids = rows["id"].to_numpy()
    md5s = rows["md5"].to_numpy()
    unit_min_id = {u: int(ids[ks].min()) for u, ks in unit_posts.items()}
    for ua, ub, dp, dd in zip(acc["a"].tolist(), acc["b"].tolist(), acc["phash_distance"].tolist(),
                              acc["dhash_distance"].tolist(), strict=True):
        uf.union(first_by_unit[ua], first_by_unit[ub])
        for x, y in ((ua, ub), (ub, ua)):
            e = (dp, dd, unit_min_id[y])
            if x not in best_edge or e < best_edge[x]:
                best_edge[x] = e
    roots = uf.roots()

    area = (rows["width"] * rows["height"]).to_numpy()
    score = posts["score"].to_numpy()
    lossless = rows["lossless"].to_numpy()
    keys = [_keep_key(int(area[k]), bool(lossless[k]), score[k], int(ids[k])) for k in range(n)]
    cluster = ids.copy()
    size = np.ones(n, np.int64)
    keep = ok.copy()
    keep_reason = np.where(ok, "unique", np.where(fetched, "unreadable", "not_fetched")).astype(object)
    for members in pd.Series(np.arange(n)).groupby(roots).groups.values():
        members = list(members)
        if len(members) == 1:
            continue
        ranked = sorted(members, key=lambda k: keys[k])
        rep = ranked[0]
        cluster[members] = ids[rep]
        size[members] = len(members)
        if not ok[rep]:  # a cluster of exact copies of an unreadable file: nothing kept
            continue
        keep[members] = False
        keep[rep] = True
        keep_reason[rep] = _deciding(keys[rep], keys[ranked[1]])
        for k in ranked[1:]:
            keep_reason[k] = _deciding(keys[rep], keys[k])
    rows["cluster"], rows["cluster_size"], rows["keep"], rows["keep_reason"] = cluster, size, keep, keep_reason

    # the distance that joined each post: 0 to a copy of the same file or hash, else its best edge
    kind = np.full(n, "", dtype=object)
    jd = np.full(n, np.nan)
    jdd = np.full(n, np.nan)
    jto = np.full(n, np.nan)
    by_md5 = rows.groupby("md5").indices
    for k in range(n):
        if not fetched[k] or size[k] == 1:
            continue
        same_file = [m for m in by_md5[md5s[k]] if m != k and fetched[m]]
        if same_file:
            kind[k], jd[k], jdd[k], jto[k] = "exact", 0, 0, min(ids[m] for m in same_file)
            continue
        u = unit_of_file[md5s[k]]
        same_unit = [m for m in unit_posts[u] if m != k]
        if same_unit:
            kind[k], jd[k], jdd[k], jto[k] = "same_hash", 0, 0, min(ids[m] for m in same_unit)
        elif u in best_edge:
            dp, dd, nb = best_edge[u]
            kind[k], jd[k], jdd[k], jto[k] = "near", dp, dd, nb
    rows["join_kind"] = kind
    rows["join_distance"] = pd.array(np.where(np.isnan(jd), None, jd), dtype="Int64")
    rows["join_dhash"] = pd.array(np.where(np.isnan(jdd), None, jdd), dtype="Int64")
    rows["joined_to"] = pd.array(np.where(np.isnan(jto), None, jto), dtype="Int64")

    fam = families(ids, posts["parent_id"].fillna(0).astype(np.int64).to_numpy())
    rows["family"] = [fam[i] for i in ids.tolist()]
    # split groups: clusters and families joined (ids and referenced parents as nodes)
    nodes = sorted(set(ids.tolist()) | set(fam.values()))
    pos = {v: i for i, v in enumerate(nodes)}
    guf = UnionFind(len(nodes))
    for i, c, f in zip(ids.tolist(), cluster.tolist(), rows["family"].tolist(), strict=True):
        guf.union(pos[i], pos[c])
        guf.union(pos[i], pos[f])
    rows["split_group"] = [nodes[guf.find(pos[i])] for i in ids.tolist()]
    return rows, pairs
