"""The near-duplicate index is exact: it returns the pairs brute force returns, no more, no fewer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.dedup import DedupConfig, dedup
from pipeline.dedup.cluster import families
from pipeline.dedup.encode import plain_robust_columns
from pipeline.dedup.search import brute_force_pairs, near_pairs, plan_for, unique_codes
from tests.conftest import repo_params

DEFAULT_RADIUS = repo_params("dedup", DedupConfig).search.phash_radius


def planted_codes(n: int, n_planted: int, max_flip: int, seed: int) -> tuple[np.ndarray, list]:
    """``n`` random 64-bit codes plus ``n_planted`` copies of random ones with 0..max_flip bits flipped."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    src = rng.integers(0, n, n_planted)
    flips = rng.integers(0, max_flip + 1, n_planted)
    planted = base[src].copy()
    for k in range(n_planted):
        for bit in rng.choice(64, flips[k], replace=False):
            planted[k] ^= np.uint64(1) << np.uint64(int(bit))
    return np.concatenate([base, planted]), list(zip(src.tolist(), range(n, n + n_planted), flips.tolist(),
                                                     strict=True))


@pytest.mark.parametrize("radius", [DEFAULT_RADIUS, 4])
def test_index_equals_brute_force_on_100k_codes(radius):
    codes, planted = planted_codes(100_000, 3_000, DEFAULT_RADIUS + 3, seed=radius)
    uniq, inv = unique_codes(codes)
    got = near_pairs(uniq, radius)
    want = brute_force_pairs(uniq, radius)
    assert len(want[0]) > 500  # the planted neighbours are there to be found
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    found = set(zip(got[0].tolist(), got[1].tolist(), strict=True))
    for a, b, flips in planted:  # every planted pair within the radius, found at its distance
        ia, ib = int(inv[a]), int(inv[b])
        if flips <= radius and ia != ib:
            assert (min(ia, ib), max(ia, ib)) in found


def test_faiss_multihash_backend_agrees():
    codes, _ = planted_codes(20_000, 1_000, 10, seed=7)
    uniq, _ = unique_codes(codes)
    for g, w in zip(near_pairs(uniq, 6, backend="faiss"), brute_force_pairs(uniq, 6), strict=True):
        np.testing.assert_array_equal(g, w)


def test_plans_are_exact_by_pigeonhole():
    for radius in range(0, 17):
        for n in (10, 10_000, 1_000_000):
            plan = plan_for(radius, n)
            assert sum(w for _, w in plan.chunks) == 64
            assert sum(t + 1 for t in plan.flips) > radius


def test_near_pairs_refuses_repeated_codes_and_handles_tiny_inputs():
    with pytest.raises(ValueError):
        near_pairs(np.array([1, 1, 2], np.uint64), 3)
    assert all(len(x) == 0 for x in near_pairs(np.array([5], np.uint64), 3))
    i, j, d = near_pairs(np.array([0, 0b111, 2**64 - 1], np.uint64), 3, threads=1)
    assert (i.tolist(), j.tolist(), d.tolist()) == ([0], [1], [3])


def test_families_are_the_smallest_id_of_each_parent_component():
    ids = np.array([10, 2, 7, 4, 5, 6, 8])
    parents = np.array([0, 10, 0, 7, 4, 99, 1])  # 99 and 1 are referenced but never listed
    assert families(ids, parents).tolist() == [2, 2, 4, 4, 4, 6, 1]


def test_clustering_invariants_on_synthetic_hashes_with_planted_copies():
    """dedup() from hashes alone, on 6,000 posts: exact copies, near copies, families, unreadable files."""
    rng = np.random.default_rng(7)
    nf, centres = 5000, 400
    ph = rng.integers(0, 2**63, nf, dtype=np.int64).astype(np.uint64)
    dh = rng.integers(0, 2**63, nf, dtype=np.int64).astype(np.uint64)
    th = rng.integers(0, 256, (nf, 144), dtype=np.uint8)
    near = np.arange(nf - centres, nf)  # the last files re-upload the first ones with a few bits flipped
    ph[near] = ph[:centres] ^ np.uint64(0b1011)
    dh[near] = dh[:centres] ^ np.uint64(1)
    th[near] = th[:centres]
    md5 = [f"{k:032x}" for k in range(nf)]
    hashes = pd.DataFrame({
        "md5": md5, "path": md5, "exact_hash": md5, "status": "ok", "reason": "",
        "width": rng.integers(100, 900, nf), "height": 500, "format": "JPEG", "lossless": rng.random(nf) < 0.3,
        "frames": 1, "phash": [f"{c:016x}" for c in ph.tolist()], "dhash": [f"{c:016x}" for c in dh.tolist()],
        "thumb": [t.tobytes() for t in th]})
    hashes.loc[near, "width"] = hashes.loc[:centres - 1, "width"].to_numpy()  # same aspect as the original
    hashes.loc[hashes.index[5:nf - centres:50], ["status", "reason", "phash", "dhash"]] = ["unreadable",
                                                                                         "truncated", "", ""]
    hashes = plain_robust_columns(hashes)
    post_md5 = md5 + [md5[k] for k in rng.integers(0, nf, 1000)]  # 1,000 exact copies
    n = len(post_md5)
    posts = pd.DataFrame({"id": rng.permutation(n) + 1, "md5": post_md5, "path": post_md5, "status": "ok",
                          "reason": "", "score": rng.integers(0, 5, n).astype(float),
                          "parent_id": np.where(rng.random(n) < 0.05, rng.integers(1, n, n), 0)})
    posts.loc[posts.index[::97], ["status", "reason"]] = ["failed", "http_404"]
    images, pairs = dedup(posts, hashes, repo_params("dedup", DedupConfig).search)

    assert len(images) == n and images["id"].is_unique and images["id"].is_monotonic_increasing
    ok = images["status"] == "ok"
    by_md5 = images[images["status"] != "not_fetched"].groupby("md5")["cluster"].nunique()
    assert (by_md5 == 1).all()  # every fetched copy of a file sits in one cluster
    cluster_of = images[ok].groupby("md5")["cluster"].first()
    joined = [cluster_of[a] == cluster_of[b] for a, b in zip(md5[:centres], md5[nf - centres:], strict=True)
              if a in cluster_of.index and b in cluster_of.index]
    assert len(joined) > centres * 0.9 and all(joined)  # each planted re-upload joins its original
    score = dict(zip(posts["id"], posts["score"], strict=True))
    assert (images.loc[ok & (images["cluster_size"] == 1), "keep"]).all()
    for cid, members in images[ok & (images["cluster_size"] > 1)].groupby("cluster"):
        kept = members[members["keep"]]
        assert len(kept) == 1 and kept["id"].iloc[0] == cid  # one representative, named by the cluster
        key = [(-r.width * r.height, not r.lossless, -score[r.id], r.id) for r in members.itertuples()]
        assert min(key)[3] == cid  # ...the first by KEEP_ORDER
        rest = members[~members["keep"]]
        assert rest["joined_to"].isin(members["id"]).all() and set(rest["join_kind"]) <= {"exact", "near",
                                                                                         "same_hash"}
        assert (members["cluster_size"] == len(members)).all()
    assert (images.loc[~ok, "keep"] == False).all()  # noqa: E712
    assert set(images.loc[images["status"] == "not_fetched", "keep_reason"]) == {"not_fetched"}
    # split groups never cut a cluster or a family
    assert (images.groupby("cluster")["split_group"].nunique() == 1).all()
    assert (images.groupby("family")["split_group"].nunique() == 1).all()
    children = images[posts.set_index("id").loc[images["id"], "parent_id"].to_numpy() > 0]
    assert len(children) > 100 and (children["family"] <= children["id"]).all()
    assert pairs["accepted"].sum() >= centres * 0.9
