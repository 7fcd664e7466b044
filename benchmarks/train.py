"""Training throughput: images/s with the real shard loader against the same steps on batches already in memory.

    python -m benchmarks.train                          # CPU, params.yaml's train section (64 px crops)
    python -m benchmarks.train --device cuda --profile gpu   # a GPU: 256 px, full-width pix2pix, bf16
    python -m benchmarks.train --demo                   # the whole train stage on the 600-post demo split

The loader run streams the split's shards through DataLoader workers (decode, crop, flip, line jitter) as
training does; the in-memory run repeats batches taken from the same loader beforehand and moved to the
device, so the two differ only by the loader. Their step-time ratio must stay at most 1.1 on a GPU: the
loader must not be what the GPU waits for. The split is the sample corpus rendered as the line-art stage
would give it (``benchmarks.corpus_shards``), built once under bench-out/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.corpus_shards import write_corpus_split
from pipeline.colorize.augment import Augment
from pipeline.colorize.config import TrainConfig
from pipeline.colorize.data import TrainStream, index_split, plan_epoch, train_loader
from pipeline.colorize.distributed import setup
from pipeline.colorize.train import Trainer
from pipeline.config import from_mapping, load_section

# What real users run on a GPU (README "Train"): pix2pix's full-width networks at 256 px crops.
GPU_PROFILE = {"generator": {"width": 64, "depth": 8, "dropout_blocks": 3}, "discriminator": {"width": 64},
               "loss": {"adversarial": "vanilla"}, "optim": {"lr": 2e-4},  # pix2pix's (the CPU demo's are faster)
               "data": {"crop": 256, "batch_size": 16, "workers": 12, "shuffle_buffer": 256},
               "device": {"device": "cuda", "precision": "bf16", "channels_last": True, "deterministic": False}}


def _merge(base: dict, over: dict) -> dict:
    return {k: _merge(base[k], over[k]) if isinstance(base.get(k), dict) and isinstance(over.get(k), dict)
            else over.get(k, base.get(k)) for k in {**base, **over}}


def config(params: Path, profile: str, device: str) -> TrainConfig:
    cfg = load_section(params, "train", TrainConfig)
    if profile == "gpu":
        from dataclasses import asdict

        cfg = from_mapping(TrainConfig, _merge(asdict(cfg), GPU_PROFILE), "benchmarks.train GPU_PROFILE")
    return replace(cfg, device=replace(cfg.device, device=device))


def split(posts: int, size: int) -> Path:
    folder = Path("bench-out") / f"split-{posts}-{size}"
    if not (folder / "val").is_dir():
        print(f"building {folder} from the sample corpus...", flush=True)
        from pipeline.samplebooru.corpus import Corpus

        write_corpus_split(Corpus(posts, seed=0), folder, size)
    return folder


def batches(cfg: TrainConfig, data: Path, repeat: int = 1):
    """The real loader's batches, epoch after epoch, as training takes them. ``repeat`` lists the shards that
    many times, so that a small demo split makes epochs as long as a real one's: the workers' start at each
    epoch is then as rare as in real training."""
    shards = index_split(data / "train") * repeat
    aug = Augment(cfg.data.crop, cfg.data.flip, cfg.data.line_jitter)
    for epoch in itertools.count():
        plan = plan_epoch(shards, cfg.seed, epoch, 1, cfg.data.workers, cfg.data.batch_size)
        stream = TrainStream(plan, 0, cfg.data.batch_size, aug, cfg.data.shuffle_buffer, cfg.seed, epoch)
        yield from itertools.islice(train_loader(stream, cfg.data.workers, pin=cfg.device.device == "cuda"),
                                    plan.steps)


def timed(t: Trainer, source, steps: int, warmup: int) -> float:
    """Seconds per step over ``steps`` steps after ``warmup``."""
    cuda = t.d.cuda
    for _ in range(warmup):
        t.train_step(*next(source))
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        t.train_step(*next(source))
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def throughput(cfg: TrainConfig, data: Path, steps: int, warmup: int, compile_: bool, repeat: int) -> dict:
    cfg = replace(cfg, device=replace(cfg.device, compile=compile_))
    d = setup(cfg.device, cfg.data.workers)
    t = Trainer(cfg, d)
    t.wrap()
    held = [(line.to(d.device), color.to(d.device)) for line, color in itertools.islice(batches(cfg, data), 8)]
    memory = timed(t, itertools.cycle(held), steps, warmup)
    if d.cuda:
        torch.cuda.reset_peak_memory_stats()
    loader = timed(t, batches(cfg, data, repeat), steps, warmup)
    b = cfg.data.batch_size
    out = {"device": str(d.device), "gpu": torch.cuda.get_device_name(d.device) if d.cuda else None,
           "crop": cfg.data.crop, "batch": b, "workers": cfg.data.workers, "threads": torch.get_num_threads(),
           "generator_width": cfg.generator.width, "mode": cfg.mode, "compile": compile_,
           "step_s_loader": round(loader, 5), "step_s_in_memory": round(memory, 5),
           "images_per_s_loader": round(b / loader, 1), "images_per_s_in_memory": round(b / memory, 1),
           "loader_ratio": round(loader / memory, 3)}
    if d.cuda:
        out["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated(d.device) / 2**30, 2)
    return out


def demo(params: Path, data: Path, out: Path) -> dict:
    """The train stage as `dvc repro train` will run it, on the demo split: wall time and the metrics."""
    from pipeline.colorize.runs import train_with_baselines

    cfg = load_section(params, "train", TrainConfig)
    start = time.perf_counter()
    m, _ = train_with_baselines(cfg, data, out / "colorizer.pt", out / "state", out / "live",
                                out / "baseline_l1.pt", out / "baseline_trivial.json")
    return {"wall_s": round(time.perf_counter() - start, 1), **m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--profile", default="params", choices=("params", "gpu"), help="gpu: GPU_PROFILE over params")
    ap.add_argument("--posts", type=int, default=600)
    ap.add_argument("--size", type=int, default=256, help="long side of the split's pictures")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=20, help="list the demo split's shards this many times")
    ap.add_argument("--compile", action="store_true", help="also measure with torch.compile (CUDA)")
    ap.add_argument("--demo", action="store_true", help="run the whole stage (fresh) and time it")
    a = ap.parse_args()
    data = split(a.posts, a.size)
    if a.demo:
        out = Path("bench-out") / f"demo-{int(time.time())}"
        print(json.dumps(demo(a.params, data, out), indent=2))
        return
    cfg = config(a.params, a.profile, a.device)
    for compile_ in (False, True) if a.compile else (False,):
        print(json.dumps(throughput(cfg, data, a.steps, a.warmup, compile_, a.repeat)), flush=True)


if __name__ == "__main__":
    main()
