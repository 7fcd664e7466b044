"""Where a run executes: one process, or one rank of ``torchrun`` (DDP), on the CPU or a GPU.

``torchrun --nproc_per_node=N -m stages.train ...`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the
rendezvous variables; ``setup`` joins the process group from them (NCCL on GPUs, gloo on CPUs) and picks
the device. Rank 0 does all file I/O; the others compute. Nothing here is home-made DDP: gradients are
averaged by ``DistributedDataParallel``, this module only starts, reduces metrics and stops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from pipeline.colorize.config import DeviceConfig


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def setup(cfg: DeviceConfig, workers: int) -> Dist:
    """Join torchrun's process group if there is one; choose the device and the torch thread count.

    ``threads: null`` gives each local rank its share of the cores less one per DataLoader worker: more
    threads than free cores make every parallel region wait for a descheduled thread (a conv step measured
    30-70x slower with 2 threads than with 1 on a 2-core machine already busy).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    want = cfg.device
    if want == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device.device is cuda but torch sees no GPU (use auto or cpu)")
    use_cuda = want == "cuda" or (want == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    torch.set_num_threads(cfg.threads or max(1, cores // local_world - workers))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world)
    return Dist(rank, world, local, device)


def teardown(d: Dist) -> None:
    if d.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def all_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    """The elementwise sum over ranks (``t`` itself in one process)."""
    if d.world == 1:
        return t
    t = t.to(d.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu()


def all_mean(t: torch.Tensor, d: Dist) -> torch.Tensor:
    return all_sum(t, d) / d.world


def gather(obj, d: Dist) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if d.world == 1:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.world > 1:
        dist.barrier()
