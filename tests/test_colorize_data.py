"""The shard loader: disjoint shares per rank and worker, seeded augmentation, exact mid-epoch resume."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from pipeline.colorize import data
from pipeline.colorize.augment import Augment, SampleError, augment, decode, sample_rng, unit
from pipeline.shardio import ShardWriter, iter_samples
from tests.colorize_data import VARIANT, picture, write_split

AUG = Augment(crop=32, flip=True, line_jitter=1)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    # 33 pictures in shards of 5: 7 shards of unequal size, so workers get unequal numbers of batches
    return write_split(tmp_path_factory.mktemp("split"), {"train": 33, "val": 5}, size=(40, 56), shard_samples=5)


def test_ranks_and_workers_get_disjoint_shards_covering_the_split(split):
    shards = data.index_split(split / "train")
    assert [len(s.keys) for s in shards] == [5, 5, 5, 5, 5, 5, 3]
    plan = data.plan_epoch(shards, seed=0, epoch=0, world=2, workers=2, batch=2)
    lanes = [lane for rank in plan.shards for lane in rank]
    names = [s.path.name for lane in lanes for s in lane]
    assert sorted(names) == sorted(s.path.name for s in shards)  # every shard once, on one rank, one worker
    assert plan.steps == min(sum(b) for b in plan.batches)  # every rank runs the same number of steps
    assert data.plan_epoch(shards, 0, 0, 2, 2, 2) == plan
    assert data.plan_epoch(shards, 0, 1, 2, 2, 2).shards != plan.shards  # a new shard order each epoch


def _batches(loader):
    return [(line.clone(), color.clone()) for line, color in loader]


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch_gives_exactly_the_batches_that_were_left(split, workers):
    shards = data.index_split(split / "train")
    plan = data.plan_epoch(shards, seed=3, epoch=1, world=1, workers=workers, batch=2)
    if workers:
        assert len(set(plan.batches[0])) > 1, "the workers should run out at different times"
    stream = lambda consumed: data.TrainStream(plan, 0, 2, AUG, buffer=4, seed=3, epoch=1, consumed=consumed)  # noqa: E731
    full = _batches(data.train_loader(stream(0), workers))
    assert len(full) == sum(plan.batches[0]) >= plan.steps
    full = full[:plan.steps]
    for consumed in (1, 2, 5, plan.steps - 1):
        rest = _batches(data.train_loader(stream(consumed), workers))[:plan.steps - consumed]
        assert len(rest) == plan.steps - consumed
        for (a_line, a_color), (b_line, b_color) in zip(full[consumed:], rest, strict=True):
            assert torch.equal(a_line, b_line) and torch.equal(a_color, b_color)


def test_batches_are_crops_in_the_networks_range(split):
    plan = data.plan_epoch(data.index_split(split / "train"), 0, 0, 1, 0, 4)
    line, color = next(iter(data.train_loader(data.TrainStream(plan, 0, 4, AUG, 8, 0, 0), 0)))
    assert line.shape == (4, 1, 32, 32) and color.shape == (4, 3, 32, 32)
    assert line.dtype == color.dtype == torch.uint8  # unit() makes them [-1, 1] floats on the device
    assert unit(line).min() >= -1 and unit(color).max() <= 1 and line.float().std() > 0


def test_augmentation_is_seeded_by_sample_and_epoch():
    line, color = picture(np.random.default_rng(1), 48, 80)
    again = [augment(line, color, AUG, sample_rng(0, 2, "k7")) for _ in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(again[0], again[1], strict=True))
    outcomes = {augment(line, color, AUG, sample_rng(0, e, "k7"))[0].tobytes() for e in range(12)}
    assert len(outcomes) > 6  # other epochs: other crops, flips and line weights
    small = augment(line[:20, :24], color[:20, :24], Augment(32, False, 0), sample_rng(0, 0, "k"))
    assert small[0].shape == (32, 32) and (small[0][20:] == 255).all()  # white-padded up to the crop


def test_line_jitter_thickens_and_thins_lines():
    line, color = picture(np.random.default_rng(2), 64, 64)
    inks = set()
    for e in range(20):
        out, _ = augment(line, color, Augment(64, False, 1), sample_rng(0, e, "k"))
        inks.add(int((out < 128).sum()))
    base = int((line < 128).sum())
    assert min(inks) < base < max(inks)


def _png(a):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_a_broken_sample_is_a_clear_error(tmp_path):
    white = np.full((32, 32), 255, np.uint8)
    with ShardWriter(tmp_path, 8) as w:
        w.write("nocolor", {"line.png": _png(white)})
        w.write("sizes", {"line.png": _png(white), "color.png": _png(np.zeros((32, 40, 3), np.uint8))})
        w.write("garbage", {"line.png": b"x", "color.png": b"y"})
    errors = []
    for key, parts in iter_samples(tmp_path / "shard-00000.tar"):
        with pytest.raises(SampleError) as exc:
            decode(parts, f"shard-00000.tar:{key}")
        errors.append(str(exc.value))
    assert "shard-00000.tar:nocolor: missing ['color.png']" in errors[0]
    assert "differ in size" in errors[1] and "unreadable PNG" in errors[2]


def test_eval_pictures_are_whole_and_padded_to_the_factor(split):
    shards = data.index_split(split / "val")
    got = list(data.eval_loader(shards, rank=0, world=1, workers=0, factor=16))
    assert len(got) == 5
    line, color, (h, w) = got[0]
    assert (h, w) == (40, 56) and line.shape == (1, 1, 48, 64) and color.shape == (1, 3, 48, 64)
    assert (line[..., 40:, :] == 255).all()  # white padding
    halves = [len(list(data.eval_loader(shards, r, 2, 1, 16))) for r in range(2)]
    assert sum(halves) == 5  # two ranks share the split, nothing twice
    assert [k for k, *_ in data.first_samples(shards, 3)] == [f"val000{i}_{VARIANT}" for i in range(3)]


def test_validation_sees_one_line_variant_each_picture_once(tmp_path):
    split = write_split(tmp_path, {"val": 5}, size=(40, 56), shard_samples=4, variants=(VARIANT, "bold"))
    shards = data.index_split(split / "val")
    assert sum(len(s.keys) for s in shards) == 10
    mine = data.of_variant(shards, VARIANT)
    assert [k for s in mine for k in s.keys] == [f"val000{i}_{VARIANT}" for i in range(5)]
    assert len(list(data.eval_loader(mine, rank=0, world=1, workers=0, factor=16))) == 5
    assert [k for k, *_ in data.first_samples(mine, 3)] == [f"val000{i}_{VARIANT}" for i in range(3)]
    assert data.of_variant(shards, None) == shards
    with pytest.raises(ValueError, match="no samples of line variant 'thin'"):
        data.of_variant(shards, "thin")


def test_an_empty_split_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no samples"):
        data.index_split(tmp_path)
