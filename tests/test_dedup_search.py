"""The near-duplicate index is exact: it returns the pairs brute force returns, no more, no fewer."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.dedup.cluster import UnionFind
from pipeline.dedup.search import brute_force_pairs, near_pairs, plan_for, unique_codes

DEFAULT_RADIUS = 8  # params.yaml dedup.phash_radius


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


def test_union_find_roots_are_smallest_members():
    uf = UnionFind(6)
    for a, b in [(4, 5), (5, 2), (0, 1)]:
        uf.union(a, b)
    assert uf.roots().tolist() == [0, 0, 2, 3, 2, 2]
