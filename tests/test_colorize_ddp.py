"""DDP on the CPU: 2 gloo processes end with identical weights, those of one process on the same global batch.

The ranks run the real loop (``fit``) after joining the process group from torchrun's environment
variables; the reference is the same ``Trainer`` in this process, fed each step the two ranks' batches
concatenated (the same global batch). Dropout is off: its masks are per-process draws.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from pipeline.colorize.augment import Augment
from pipeline.colorize.config import TrainConfig
from pipeline.colorize.data import TrainStream, index_split, plan_epoch, train_loader
from pipeline.colorize.distributed import Dist, setup, teardown
from pipeline.colorize.train import RunPaths, Trainer, fit
from pipeline.config import load_section
from tests.colorize_data import train_params, write_split

OVER = {"generator": {"dropout": 0.0}, "data": {"batch_size": 8, "workers": 0}, "schedule": {"epochs": 2}}


def _rank(rank: int, port: int, params: str, data: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE="2")  # what torchrun sets
    cfg = load_section(params, "train", TrainConfig)
    d = setup(cfg.device, cfg.data.workers)
    try:
        t, _ = fit(cfg, d, RunPaths(Path(data), Path(out) / "state", Path(out) / "live"), "ddp")
        torch.save({"G": t.G.state_dict(), "D": t.D.state_dict(), "step": t.step}, f"{out}/rank{rank}.pt")
    finally:
        teardown(d)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reference(cfg: TrainConfig, data) -> Trainer:
    """One process, each step on the concatenation of what rank 0 and rank 1 are given."""
    torch.set_num_threads(1)
    t = Trainer(cfg, Dist(0, 1, 0, torch.device("cpu")))
    t.wrap()
    train, per_rank = index_split(data / "train"), cfg.data.batch_size // 2
    aug = Augment(cfg.data.crop, cfg.data.flip, cfg.data.line_jitter)
    for epoch in range(cfg.schedule.epochs):
        plan = plan_epoch(train, cfg.seed, epoch, 2, cfg.data.workers, per_rank)
        loaders = [train_loader(TrainStream(plan, r, per_rank, aug, cfg.data.shuffle_buffer, cfg.seed, epoch), 0)
                   for r in range(2)]
        for i, ((l0, c0), (l1, c1)) in enumerate(itertools.islice(zip(*loaders, strict=False), plan.steps)):
            t.set_lr(epoch * plan.steps + i, plan.steps * cfg.schedule.epochs)  # the loop's lr decay
            t.train_step(torch.cat([l0, l1]), torch.cat([c0, c1]))
            t.step += 1
    return t


def test_two_gloo_ranks_match_one_process_on_the_global_batch(tmp_path):
    # unequal shards (5, 5, 5, 5, 4): the ranks must still take the same number of steps
    data = write_split(tmp_path / "split", {"train": 24, "val": 4}, size=(32, 48), shard_samples=5)
    params = train_params(tmp_path / "params.yaml", **OVER)
    mp.spawn(_rank, args=(_free_port(), str(params), str(data), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    ref = _reference(load_section(params, "train", TrainConfig), data)
    assert ranks[0]["step"] == ranks[1]["step"] == ref.step > 2
    for net, ref_net in (("G", ref.G), ("D", ref.D)):
        mine = ref_net.state_dict()
        for k, v in ranks[0][net].items():
            assert torch.equal(v, ranks[1][net][k]), f"{net}.{k} differs between the ranks"
            assert torch.allclose(v, mine[k], rtol=1e-4, atol=1e-5), f"{net}.{k} differs from one process"
    ckpt = torch.load(tmp_path / "state" / "checkpoint.pt", weights_only=True)  # rank 0 wrote it, unwrapped
    assert ckpt["world"] == 2 and len(ckpt["rng"]) == 2
    assert set(ckpt["generator"]) == set(ref.G.state_dict())  # no "module." prefix of a DDP wrapper
