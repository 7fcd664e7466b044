"""Streaming the split's tar shards into training batches: per rank, per DataLoader worker, resumable.

``data/split/<split>/shard-*.tar`` (``pipeline.shardio``) are read as streams. Each epoch has a plan that
depends only on ``(seed, epoch)``, the world size and the number of workers:

1. the shards are shuffled by ``(seed, epoch)``; rank ``r`` of ``world`` takes every world-th shard from
   ``r`` (disjoint subsets, as DistributedSampler does with samples), and its worker ``w`` every
   workers-th of those;
2. each worker streams its shards through a shuffle buffer seeded by ``(seed, epoch, rank, worker)`` and
   yields whole batches (its last partial batch is dropped); augmentation is seeded per sample
   (``augment.sample_rng``);
3. the DataLoader takes batches from its workers round-robin, a worker dropping out once it has none left.
   Every rank runs the same number of steps: the fewest batches any rank has (DDP needs equal steps).

Resuming after ``k`` batches of an epoch rebuilds the same plan, tells each worker how many of its
batches were consumed (it skips their samples without decoding them) and rotates the workers so that the
round-robin goes on where it stopped: the batches that follow are exactly those an uninterrupted run gets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pipeline.colorize.augment import Augment, augment, decode, pad_to, sample_rng, to_tensors
from pipeline.shardio import iter_samples, list_keys, shard_paths


@dataclass(frozen=True)
class Shard:
    path: Path
    keys: tuple[str, ...]


def index_split(folder: Path | str) -> list[Shard]:
    """The shards of one split with their sample keys (read from the tar headers); none is an error."""
    folder = Path(folder)
    shards = [Shard(p, tuple(list_keys(p))) for p in shard_paths(folder)]
    if not any(s.keys for s in shards):
        raise FileNotFoundError(f"{folder}: no samples (expected shard-*.tar written by the split stage)")
    return shards


def of_variant(shards: list[Shard], variant: str | None) -> list[Shard]:
    """The samples of one line variant (keys ``<id>_<variant>``), or every sample with ``None``.

    Validation measures the variant the evaluate stage scores and ``colorize`` extracts: one sample per
    picture, not the same picture again under each augmentation variant (three times the time)."""
    if variant is None:
        return shards
    kept = [Shard(s.path, tuple(k for k in s.keys if k.endswith(f"_{variant}"))) for s in shards]
    if not any(s.keys for s in kept):
        raise ValueError(f"{shards[0].path.parent}: no samples of line variant {variant!r} (keys <id>_{variant})")
    return kept


@dataclass(frozen=True)
class EpochPlan:
    """Which shards each (rank, worker) streams this epoch, and in what order batches arrive."""

    shards: tuple[tuple[tuple[Shard, ...], ...], ...]  # [rank][worker] -> shards
    batches: tuple[tuple[int, ...], ...]  # [rank][worker] -> whole batches it yields
    steps: int  # batches every rank takes this epoch

    def order(self, rank: int) -> list[int]:
        """The worker each of the rank's batches comes from: round-robin, exhausted workers left out."""
        counts = self.batches[rank]
        return [w for j in range(max(counts, default=0)) for w in range(len(counts)) if j < counts[w]][:self.steps]


def plan_epoch(shards: list[Shard], seed: int, epoch: int, world: int, workers: int, batch: int) -> EpochPlan:
    """The epoch's plan: shards shuffled by ``(seed, epoch)`` and dealt to ranks, then to workers."""
    order = np.random.default_rng([seed, epoch]).permutation(len(shards))
    ranks = [[shards[i] for i in order[r::world]] for r in range(world)]
    lanes = max(1, workers)
    per = tuple(tuple(tuple(rs[w::lanes]) for w in range(lanes)) for rs in ranks)
    counts = tuple(tuple(sum(len(s.keys) for s in ws) // batch for ws in rw) for rw in per)
    return EpochPlan(per, counts, min(sum(c) for c in counts))


def resume_point(plan: EpochPlan, rank: int, consumed: int) -> tuple[list[int], int]:
    """After ``consumed`` batches: how many of each worker's batches are used, and whose batch is next."""
    order = plan.order(rank)
    used = [order[:consumed].count(w) for w in range(len(plan.batches[rank]))]
    return used, (order[consumed] if consumed < len(order) else 0)


class TrainStream(IterableDataset):
    """One rank's training batches (uint8) for one epoch; DataLoader worker ``p`` plays logical worker ``p + first``."""

    def __init__(self, plan: EpochPlan, rank: int, batch: int, aug: Augment, buffer: int, seed: int,
                 epoch: int, consumed: int = 0):
        self.lanes, self.rank, self.batch, self.aug = plan.shards[rank], rank, batch, aug
        self.buffer, self.seed, self.epoch = buffer, seed, epoch
        self.used, self.first = resume_point(plan, rank, consumed)

    def __iter__(self):
        info = get_worker_info()
        _quiet_worker(info)
        lane = ((info.id if info else 0) + self.first) % len(self.lanes)
        shuffle = random.Random(f"{self.seed}/{self.epoch}/{self.rank}/{lane}")
        samples = _shuffled(self._raw(self.lanes[lane]), self.buffer, shuffle)
        skip = self.used[lane] * self.batch
        lines, colors = [], []
        for i, (where, key, parts) in enumerate(samples):
            if i < skip:  # consumed before the resume: not even decoded
                continue
            line, color = augment(*decode(parts, where), self.aug, sample_rng(self.seed, self.epoch, key))
            line_t, color_t = to_tensors(line, color)
            lines.append(line_t)
            colors.append(color_t)
            if len(lines) == self.batch:
                yield torch.stack(lines), torch.stack(colors)
                lines, colors = [], []

    @staticmethod
    def _raw(shards):
        for shard in shards:
            for key, parts in iter_samples(shard.path):
                yield f"{shard.path}:{key}", key, parts


def _shuffled(samples, size: int, rng: random.Random):
    """WebDataset's shuffle buffer: hold ``size`` samples, emit a random one as each new one arrives."""
    if size <= 1:
        yield from samples
        return
    buf = []
    for s in samples:
        buf.append(s)
        if len(buf) >= size:
            i = rng.randrange(len(buf))
            buf[i], buf[-1] = buf[-1], buf[i]
            yield buf.pop()
    rng.shuffle(buf)
    yield from buf


def _quiet_worker(info) -> None:
    """A worker process decodes with one thread: the training process owns the cores."""
    if info is not None:
        torch.set_num_threads(1)
        import cv2

        cv2.setNumThreads(1)


class EvalStream(IterableDataset):
    """Whole pictures, one per batch, white-padded to the U-Net's factor: ``(line, colour, (h, w))``, uint8."""

    def __init__(self, lanes: list[list[Shard]], factor: int):
        self.lanes, self.factor = lanes, factor

    def __iter__(self):
        info = get_worker_info()
        _quiet_worker(info)
        for shard in self.lanes[info.id if info else 0]:
            keys = set(shard.keys)
            for key, parts in iter_samples(shard.path):
                if key not in keys:
                    continue
                line, color = decode(parts, f"{shard.path}:{key}")
                h, w = line.shape
                f = self.factor
                line_t, color_t = to_tensors(*pad_to(line, color, -(-h // f) * f, -(-w // f) * f))
                yield line_t[None], color_t[None], (h, w)


def _loader(dataset, workers: int, pin: bool) -> DataLoader:
    # A generator of its own: creating the iterator must not draw from the global torch RNG that dropout uses,
    # or a resumed run would draw dropout masks one number off.
    return DataLoader(dataset, batch_size=None, num_workers=workers, pin_memory=pin,
                      generator=torch.Generator().manual_seed(0), persistent_workers=False)


def train_loader(stream: TrainStream, workers: int, pin: bool = False) -> DataLoader:
    return _loader(stream, workers, pin)


def eval_loader(shards: list[Shard], rank: int, world: int, workers: int, factor: int,
                pin: bool = False) -> DataLoader:
    """The rank's share of a split (every world-th shard), whole pictures, for validation."""
    mine = shards[rank::world]
    lanes = max(1, min(workers, len(mine)))
    return _loader(EvalStream([mine[w::lanes] for w in range(lanes)], factor), lanes if workers else 0, pin)


def first_samples(shards: list[Shard], n: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The split's first ``n`` samples in shard order, decoded: the fixed pictures of the epoch grid."""
    out = []
    for shard in shards:
        keys = set(shard.keys)
        for key, parts in iter_samples(shard.path):
            if len(out) == n:
                return out
            if key in keys:
                out.append((key, *decode(parts, f"{shard.path}:{key}")))
    return out
