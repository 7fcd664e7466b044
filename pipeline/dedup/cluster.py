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
5. Three more candidate paths for the rougher re-uploads (``pipeline.dedup.robust``): the mirrored
   picture's hashes (``mirror``), the content with uniform margins trimmed (``trimmed``), and window codes
   with a thumbnail alignment (``window``: a crop, or a border added). One row per pair is kept.
6. Connected components over posts (same file, same unit, accepted pairs) give the clusters; each keeps
   one post by ``KEEP_ORDER``. Every step is whole-array work: a million posts cluster in about 35 s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.dedup.config import SearchParams
from pipeline.dedup.graph import components as _components
from pipeline.dedup.hashing import THUMB_SIZE, corner_tolerant_correlation
from pipeline.dedup.robust import combine, figure_agrees, inner_pairs, mirror_pairs, window_pairs
from pipeline.dedup.search import hamming, near_pairs
from pipeline.dedup.verdicts import honour, split_files
from pipeline.dedup.windows import ALIGN, N_CODES, agree_in_place

# The kept representative of a cluster is the first under this order; keep_reason names the first
# criterion that separates it from the runner-up (for the others: from the representative).
KEEP_ORDER = ("largest_resolution", "lossless", "higher_score", "lower_id")
# join_kind of a post joined by a near pair, by the path that found it (pipeline.dedup.robust)
JOIN_KINDS = {"direct": "near", "trimmed": "near_trimmed", "mirror": "near_mirror", "window": "near_window"}


def hex_to_u64(values) -> np.ndarray:
    """16-hex-digit strings to uint64."""
    vals = list(values)
    if not vals:
        return np.zeros(0, np.uint64)
    return np.frombuffer(bytes.fromhex("".join(vals)), dtype=">u8").astype(np.uint64)


def candidate_pairs(phash: np.ndarray, dhash: np.ndarray, thumbs: np.ndarray, log_aspect: np.ndarray,
                    params: SearchParams, radius: int | None = None, align_thumbs: np.ndarray | None = None):
    """Pairs ``a < b`` of distinct units within ``radius`` (default ``phash_radius``) on pHash, judged by
    dHash and thumbnails (``corner_tolerant_correlation``: a stamp in one corner does not part a pair),
    a second look at ``align_thumbs`` where those part it (``windows.agree_in_place``), and there the
    figures of mostly plain pictures (``robust.figure_agrees``). Returns columns a, b (unit positions),
    phash_distance, dhash_distance, thumb_corr, aspect_change, accepted."""
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
    pi, pj, _ = near_pairs(uniq, params.phash_radius if radius is None else radius, params.backend, params.threads)
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
    corr = corner_tolerant_correlation(thumbs[a], thumbs[b])
    aspect = np.round(np.abs(log_aspect[a] - log_aspect[b]), 4)
    close = (dd <= params.dhash_radius) & (aspect <= params.max_aspect_change)
    accepted = close & (corr >= params.min_thumb_corr)
    look = np.flatnonzero(close & ~accepted) if align_thumbs is not None else []
    if len(look):  # a second look where the 12x12 thumbnails disagree (a stamp, a logo)
        accepted[look] = agree_in_place(align_thumbs[a[look]], align_thumbs[b[look]], params.min_aligned_corr,
                                        params.min_aligned_agree)
    if align_thumbs is not None and accepted.any():
        accepted[accepted] = figure_agrees(align_thumbs[a[accepted]], align_thumbs[b[accepted]], params)
    return pd.DataFrame({"a": a, "b": b, "phash_distance": dp, "dhash_distance": dd, "thumb_corr": corr,
                         "aspect_change": aspect, "accepted": accepted, "kind": "direct",
                         "window_distance": np.full(len(a), -1, np.int64), "aligned_corr": np.nan,
                         "figure_corr": np.nan})


def _empty(cols: list[str]) -> pd.DataFrame:
    dtypes = {"accepted": bool, "thumb_corr": np.float64, "aspect_change": np.float64, "kind": object,
              "aligned_corr": np.float64, "figure_corr": np.float64}
    return pd.DataFrame({c: np.zeros(0, dtypes.get(c, np.int64))
                         for c in cols + ["kind", "window_distance", "aligned_corr", "figure_corr"]})


def families(ids: np.ndarray, parent_ids: np.ndarray) -> np.ndarray:
    """Parent/child family of each post: the smallest id (present or referenced) in its component."""
    has = parent_ids != 0
    return _min_node_of_components(np.r_[ids, ids[has]], np.r_[ids, parent_ids[has]])[:len(ids)]


def _min_node_of_components(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each edge ``a[i] - b[i]`` between node values: the smallest value in ``a[i]``'s component."""
    nodes, inv = np.unique(np.r_[a, b], return_inverse=True)
    labels = _components(len(nodes), inv[:len(a)], inv[len(a):])
    least = np.full(labels.max() + 1 if len(labels) else 0, np.iinfo(np.int64).max)
    np.minimum.at(least, labels, nodes)
    return least[labels[inv[:len(a)]]]


def _first_in_group(group: np.ndarray, member: np.ndarray) -> np.ndarray:
    """For each member: the first (lowest) position with its group value among members; -1 elsewhere."""
    out = np.full(len(group), -1, np.int64)
    pos = np.flatnonzero(member)
    if len(pos):
        _, first, inv = np.unique(group[pos], return_index=True, return_inverse=True)
        out[pos] = pos[first][inv.reshape(-1)]
    return out


def _other_min(group: np.ndarray, member: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """For each member: the least id among the *other* members of its group; -1 when it has none."""
    out = np.full(len(group), -1, np.int64)
    pos = np.flatnonzero(member)
    if not len(pos):
        return out
    order = pos[np.lexsort((ids[pos], group[pos]))]
    g = group[order]
    head = np.r_[True, g[1:] != g[:-1]]
    start = np.flatnonzero(head)
    count = np.diff(np.r_[start, len(order)])
    k = np.cumsum(head) - 1
    least = ids[order[start]][k]
    second = ids[order[np.minimum(start + 1, len(order) - 1)]][k]
    out[order] = np.where(count[k] < 2, -1, np.where(ids[order] == least, second, least))
    return out


@dataclass(frozen=True)
class _Units:
    """Distinct (pHash, dHash, thumbnail) among the readable files, and which unit each file is."""

    files: pd.Index  # md5s of the readable files, sorted
    of_file: np.ndarray  # unit of each file
    phash: np.ndarray  # per unit, uint64
    dhash: np.ndarray
    thumbs: np.ndarray  # per unit, THUMB_SIZE**2 bytes
    md5: np.ndarray  # per unit: its first file
    log_aspect: np.ndarray  # per unit
    size: np.ndarray  # per unit: (width, height) in displayed pixels
    phash_mirror: np.ndarray  # per unit, uint64: the mirrored picture's hashes
    dhash_mirror: np.ndarray
    windows: np.ndarray  # per unit, windows.N_CODES uint64 codes
    align_thumbs: np.ndarray  # per unit, windows.ALIGN**2 bytes
    trimmed: np.ndarray  # the units with margins trimmed; per one of them: its content's hashes, thumbnail
    # and log aspect ratio
    trim_phash: np.ndarray
    trim_dhash: np.ndarray
    trim_thumbs: np.ndarray
    trim_log_aspect: np.ndarray

    def __len__(self) -> int:
        return len(self.phash)


def dedup(posts: pd.DataFrame, hashes: pd.DataFrame, params: SearchParams,
          verdicts: Mapping[tuple[str, str], str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cluster the posts of ``posts`` (RAW_POSTS) given their files' ``hashes`` (DEDUP_HASHES).

    ``verdicts`` maps (md5_a, md5_b) to ``same``/``different`` (``pipeline.dedup.labels``): must-links and
    cannot-links honoured by the rule in ``pipeline.dedup.verdicts``. Returns ``(images, pairs)`` in the
    DEDUP and DEDUP_PAIRS schemas: one row per post, one per candidate pair (the search's own verdicts).
    """
    posts = posts.sort_values("id", kind="stable").reset_index(drop=True)
    rows, h = _post_rows(posts, hashes)
    units = _units(h[h["status"] == "ok"].sort_index(), split_files(verdicts) if verdicts else set())
    paths = [candidate_pairs(units.phash, units.dhash, units.thumbs, units.log_aspect, params,
                             align_thumbs=units.align_thumbs),
             _trimmed_pairs(units, params)]
    if params.mirror:
        paths.append(mirror_pairs(units.phash, units.dhash, units.thumbs, units.phash_mirror, units.dhash_mirror,
                                  units.log_aspect, params, units.align_thumbs))
    paths.append(window_pairs(units, params))
    cand = combine(paths)
    edges = cand[cand["accepted"]]
    if verdicts:
        edges = honour(units.files, units.of_file, units.phash, units.dhash, edges, verdicts)
    g = _Graph.build(rows, units, edges)
    _choose_representatives(rows, g, posts["score"].fillna(-1).to_numpy(np.int64))
    _join_details(rows, g, edges, len(units))
    fam = families(g.ids, posts["parent_id"].fillna(0).astype(np.int64).to_numpy())
    rows["family"] = fam
    rows["split_group"] = _min_node_of_components(np.r_[g.ids, g.ids], np.r_[rows["cluster"].to_numpy(), fam])[
        :len(rows)]  # clusters and families joined: what the split keeps on one side
    return rows, _pair_table(units, cand)


def _trimmed_pairs(units: _Units, params: SearchParams) -> pd.DataFrame:
    """The direct search and check on the trimmed contents of the units that had margins to trim (a
    picture without margins is the direct path's: its own radius, not ``trim_radius``), and of each
    trimmed content against every whole picture (``robust.inner_pairs``: a frame added around a picture)."""
    t = units.trimmed
    cand = candidate_pairs(units.trim_phash, units.trim_dhash, units.trim_thumbs, units.trim_log_aspect, params,
                           params.trim_radius)
    a, b = t[cand["a"].to_numpy(np.int64)], t[cand["b"].to_numpy(np.int64)]
    return pd.concat([cand.assign(a=np.minimum(a, b), b=np.maximum(a, b), kind="trimmed"),
                      inner_pairs(units, params)], ignore_index=True)


def _post_rows(posts: pd.DataFrame, hashes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each post's status, reason and file facts; and the hashes of the files these posts use, by md5."""
    fetched = (posts["status"] == "ok").to_numpy()
    # only the files these posts use (a hash-table look-up: pandas' isin on Arrow strings loops in Python)
    used = pd.Index(hashes["md5"].to_numpy(object)).isin(posts.loc[fetched, "md5"].to_numpy(object))
    h = hashes[used].set_index("md5")
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
    return rows, h


def _units(ok_files: pd.DataFrame, alone: set[str]) -> _Units:
    """Collapse readable files (md5-indexed, sorted) with the same pHash, dHash and thumbnail into units.

    A file in ``alone`` (named by a ``different`` verdict) is a unit of its own.
    """
    unit_key = ok_files["phash"] + ok_files["dhash"] + ok_files["thumb"].map(bytes.hex)
    if alone:
        own = ok_files.index.isin(list(alone))
        unit_key = unit_key.where(~own, unit_key + ok_files.index.to_series(index=ok_files.index))
    ukeys, file_unit = np.unique(unit_key.to_numpy(), return_inverse=True)
    first_file = np.unique(file_unit.reshape(-1), return_index=True)[1]  # files are in md5 order
    thumb_end = 32 + 2 * THUMB_SIZE**2
    first = ok_files.iloc[first_file]
    cut = first[first["trim_phash"] != ""]  # the units that had margins to trim
    return _Units(
        files=pd.Index(ok_files.index), of_file=file_unit.reshape(-1),
        phash=hex_to_u64([k[:16] for k in ukeys]), dhash=hex_to_u64([k[16:32] for k in ukeys]),
        thumbs=np.frombuffer(bytes.fromhex("".join(k[32:thumb_end] for k in ukeys)), np.uint8).reshape(
            -1, THUMB_SIZE**2),
        md5=ok_files.index.to_numpy()[first_file],
        log_aspect=np.log(first["width"].to_numpy(np.float64) / first["height"].to_numpy(np.float64)),
        size=first[["width", "height"]].to_numpy(np.float64),
        phash_mirror=hex_to_u64(first["phash_mirror"]), dhash_mirror=hex_to_u64(first["dhash_mirror"]),
        windows=_rows_of(first["windows"], N_CODES * 8).view(">u8").astype(np.uint64),
        align_thumbs=_rows_of(first["align_thumb"], ALIGN**2),
        trimmed=np.flatnonzero((first["trim_phash"] != "").to_numpy()), trim_phash=hex_to_u64(cut["trim_phash"]),
        trim_dhash=hex_to_u64(cut["trim_dhash"]), trim_thumbs=_rows_of(cut["trim_thumb"], THUMB_SIZE**2),
        trim_log_aspect=np.log(cut["trim_aspect"].to_numpy(np.float64)))


def _rows_of(values: pd.Series, width: int) -> np.ndarray:
    """Fixed-width binary cells as a (rows, width) uint8 array."""
    return np.frombuffer(b"".join(values), np.uint8).reshape(len(values), width)


def _pair_table(units: _Units, cand: pd.DataFrame) -> pd.DataFrame:
    """Candidate unit pairs as DEDUP_PAIRS rows (named by each unit's first md5)."""
    pairs = pd.DataFrame({
        "md5_a": units.md5[cand["a"].to_numpy()] if len(cand) else [],
        "md5_b": units.md5[cand["b"].to_numpy()] if len(cand) else [],
        "phash_distance": cand["phash_distance"], "dhash_distance": cand["dhash_distance"],
        "thumb_corr": cand["thumb_corr"], "aspect_change": cand["aspect_change"],
        "accepted": cand["accepted"], "kind": cand["kind"], "window_distance": cand["window_distance"],
        "aligned_corr": cand["aligned_corr"], "figure_corr": cand["figure_corr"],
    })
    return pairs.sort_values(["md5_a", "md5_b"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _Graph:
    """Posts joined by the same file (fetched), the same unit (readable) and accepted unit pairs."""

    ids: np.ndarray
    fetched: np.ndarray  # bool per post
    ok: np.ndarray  # bool per post: readable
    md5_code: np.ndarray  # file of each post, as a code
    unit: np.ndarray  # unit of each post, -1 unless readable
    first_of_unit: np.ndarray  # per post: the first post of its unit
    labels: np.ndarray  # connected component of each post
    size: np.ndarray  # its component's size

    @classmethod
    def build(cls, rows: pd.DataFrame, units: _Units, acc: pd.DataFrame) -> _Graph:
        n = len(rows)
        idx = np.arange(n)
        fetched = (rows["status"] != "not_fetched").to_numpy()
        ok = (rows["status"] == "ok").to_numpy()
        md5_code = pd.factorize(rows["md5"])[0]
        file_pos = units.files.get_indexer(rows["md5"].where(ok, None))
        unit = np.where(ok, units.of_file[np.maximum(file_pos, 0)], -1) if len(units.files) else np.full(n, -1)
        first_of_file = _first_in_group(md5_code, fetched)
        first_of_unit = _first_in_group(unit, ok)
        unit_first_post = np.zeros(max(len(units), 1), np.int64)
        unit_first_post[unit[ok]] = first_of_unit[ok]
        ua, ub = acc["a"].to_numpy(np.int64), acc["b"].to_numpy(np.int64)
        labels = _components(n, np.concatenate([idx[fetched], idx[ok], unit_first_post[ua]]),
                             np.concatenate([first_of_file[fetched], first_of_unit[ok], unit_first_post[ub]]))
        return cls(rows["id"].to_numpy(), fetched, ok, md5_code, unit, first_of_unit, labels,
                   np.bincount(labels)[labels] if n else np.zeros(0, np.int64))


def _choose_representatives(rows: pd.DataFrame, g: _Graph, score: np.ndarray) -> None:
    """The kept post of each cluster: the first by KEEP_ORDER; keep_reason names what decided."""
    n, idx, labels, ok = len(rows), np.arange(len(rows)), g.labels, g.ok
    area = (rows["width"] * rows["height"]).to_numpy(np.int64)
    lossless = rows["lossless"].to_numpy(bool)
    order = np.lexsort((g.ids, -score, ~lossless, -area, labels))
    head = np.r_[True, labels[order][1:] != labels[order][:-1]]
    rep = np.empty(n, np.int64)
    rep[order] = order[np.flatnonzero(head)][np.cumsum(head) - 1]
    runner_up = np.empty(n, np.int64)  # the second of the cluster (itself for a single post)
    second = np.flatnonzero(head) + 1
    second = np.where((second < n) & ~np.r_[head, True][np.minimum(second, n)], second, second - 1)
    runner_up[order] = order[second][np.cumsum(head) - 1]
    multi = g.size > 1
    is_rep = rep == idx
    keep = np.where(multi, is_rep & ok, ok)
    keep_reason = np.where(ok, "unique", np.where(g.fetched, "unreadable", "not_fetched")).astype(object)
    other = np.where(is_rep, runner_up, idx)  # the representative against its runner-up, the rest against it
    judged = multi & ok[rep]
    keep_reason[judged] = np.select(
        [area[rep] != area[other], lossless[rep] != lossless[other], score[rep] != score[other]],
        list(KEEP_ORDER[:3]), KEEP_ORDER[3])[judged]
    rows["cluster"], rows["cluster_size"], rows["keep"], rows["keep_reason"] = g.ids[rep], g.size, keep, keep_reason


def _join_details(rows: pd.DataFrame, g: _Graph, acc: pd.DataFrame, n_units: int) -> None:
    """How each clustered post joined: 0 bits to a copy of the same file or hash, else its best edge
    (``near``, or ``label`` when that edge is a reviewer's must-link)."""
    n, ok, ids, unit = len(rows), g.ok, g.ids, g.unit
    same_file = _other_min(g.md5_code, g.fetched, ids)
    same_unit = _other_min(unit, ok, ids)
    unit_min_id = np.zeros(max(n_units, 1), np.int64)
    unit_min_id[unit[ok]] = ids[g.first_of_unit[ok]]  # posts are in id order: the first has the least id
    ua, ub = acc["a"].to_numpy(np.int64), acc["b"].to_numpy(np.int64)
    x, y = np.r_[ua, ub], np.r_[ub, ua]
    # the distance of the code that found the edge: the window code's for a window pair
    code = np.where(acc["kind"].to_numpy(object) == "window", acc["window_distance"].fillna(-1).to_numpy(np.int64),
                    acc["phash_distance"].to_numpy(np.int64))
    dp = np.r_[code, code]
    dd = np.r_[acc["dhash_distance"].to_numpy(np.int64), acc["dhash_distance"].to_numpy(np.int64)]
    best = np.lexsort((unit_min_id[y], dd, dp, x))
    best = best[np.r_[True, x[best][1:] != x[best][:-1]]] if len(best) else best
    edge_dp, edge_dd, edge_to = (np.full(max(n_units, 1), -1, np.int64) for _ in range(3))
    edge_dp[x[best]], edge_dd[x[best]], edge_to[x[best]] = dp[best], dd[best], unit_min_id[y[best]]
    by_label = np.zeros(max(n_units, 1), bool)  # the best edge is a reviewer's must-link
    if "label" in acc:
        by_label[x[best]] = np.r_[acc["label"].fillna(False).to_numpy(bool), acc["label"].fillna(False).to_numpy(bool)][best]
    path = np.full(max(n_units, 1), "near", object)  # which path found the best edge (a must-link: none)
    kinds = acc["kind"].fillna("direct").map(JOIN_KINDS).to_numpy(object)
    path[x[best]] = np.r_[kinds, kinds][best]
    u0 = np.maximum(unit, 0)
    near = ok & (edge_to[u0] >= 0)
    live = g.fetched & (g.size > 1)
    is_exact = live & (same_file >= 0)
    is_same = live & ~is_exact & (same_unit >= 0)
    is_near = live & ~is_exact & ~is_same & near
    rows["join_kind"] = np.where(is_near & ~by_label[u0], path[u0], np.select(
        [is_exact, is_same, is_near & by_label[u0]], ["exact", "same_hash", "label"], "")).astype(object)
    zero = np.zeros(n, np.int64)
    jd = np.select([is_exact | is_same, is_near], [zero, edge_dp[u0]], -1)
    jdd = np.select([is_exact | is_same, is_near], [zero, edge_dd[u0]], -1)
    jto = np.select([is_exact, is_same, is_near], [same_file, same_unit, edge_to[u0]], -1)
    for col, v in (("join_distance", jd), ("join_dhash", jdd), ("joined_to", jto)):
        rows[col] = pd.array(np.where(v >= 0, v, None), dtype="Int64")
