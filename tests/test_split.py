"""The split: by group, within one group of its ratios, stable as posts are added, leak-free, byte-stable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.split import Ratios, SplitConfig, assign, leak_groups, leak_report
from pipeline.split.config import SPLITS

RATIOS = Ratios(0.7, 0.2, 0.1)


def random_groups(n: int, seed: int) -> pd.Series:
    """Picture -> group key, groups of 1-6 pictures (mostly 1), keys = least picture id."""
    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 1, 1, 1, 2, 2, 3, 6], size=n)
    keys = np.repeat(np.cumsum(np.r_[0, sizes[:-1]]), sizes)[:n] * 7 + 1000
    return pd.Series(keys, index=np.arange(len(keys)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ratios_stay_within_one_group_at_every_prefix(seed):
    groups = random_groups(3000, seed)
    strata = pd.Series(np.random.default_rng(seed).integers(0, 8, len(groups)), index=groups.index)
    split = assign(groups, strata, RATIOS, seed)
    assert (split.groupby(groups).nunique() == 1).all()  # a group never straddles
    biggest = groups.value_counts().max()
    keys = np.sort(groups.unique())
    for cut in np.linspace(50, len(keys), 12).astype(int):
        inside = groups.isin(keys[:cut])
        counts = split[inside].value_counts()
        for s in SPLITS:
            assert abs(counts.get(s, 0) - RATIOS.of(s) * inside.sum()) <= biggest, (cut, s)
    # and each stratum is spread in about the same ratios
    first = strata.groupby(groups).transform("first")
    for _, part in split.groupby(first):
        c = part.value_counts()
        for s in SPLITS:
            assert abs(c.get(s, 0) - RATIOS.of(s) * len(part)) <= 3 * biggest


def test_adding_newer_posts_never_moves_an_existing_group():
    groups = random_groups(2000, 5)
    strata = pd.Series(np.arange(len(groups)) % 5, index=groups.index)
    before = assign(groups, strata, RATIOS, 5)
    more = pd.concat([groups, pd.Series(groups.max() + 7 * np.arange(1, 400), index=np.arange(2000, 2399))])
    after = assign(more, pd.concat([strata, pd.Series(1, index=more.index[len(groups):])]), RATIOS, 5)
    pd.testing.assert_series_equal(after.loc[groups.index], before)


def test_near_pairs_and_dedup_groups_join_into_one_group():
    ids = np.array([10, 11, 12, 13, 14])
    dedup_group = np.array([10, 10, 12, 13, 14])
    got = leak_groups(ids, dedup_group, np.array([2]), np.array([4]))  # 12 and 14 are near
    assert got.tolist() == [10, 10, 12, 13, 12]


def test_leak_report_counts_groups_hashes_and_near_pairs_across_splits():
    split = pd.Series(["train", "test", "train", "val", "val"])
    group = pd.Series([1, 1, 3, 4, 5])
    phash = pd.Series(["0" * 16, "0" * 15 + "1", "f" * 16, "f" * 16, "00ff00ff00ff00ff"])
    r = leak_report(split, group, phash, radius=4)
    assert r["groups_across_splits"] == 1  # group 1
    assert r["same_hash_across_splits"] == 1  # ffff... in train and val
    assert r["near_pairs_across_splits"] == 1  # 000..0 (train, test) vs 000..1 (test)
    clean = leak_report(pd.Series(["train"] * 5), group, phash, radius=4)
    assert all(v == 0 for k, v in clean.items() if k.endswith("across_splits"))


def test_config_refuses_ratios_that_do_not_add_up():
    with pytest.raises(ValueError, match="add up"):
        Ratios(0.7, 0.2, 0.2)
    with pytest.raises(ValueError, match="shard_size"):
        SplitConfig(0, RATIOS, 0, ())
