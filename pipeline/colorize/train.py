"""The one training loop: pix2pix (``mode: gan``) or its L1-only baseline (``mode: l1``), resumable to the step.

Per step: the generator colours a batch; in gan mode the discriminator is updated on real and generated
pairs (one forward of both, concatenated), then the generator on adversarial + ``l1_weight`` x L1 loss.
Per epoch: validation on the whole val pictures, a checkpoint, DVCLive metrics and a picture grid.

Exact resume: a checkpoint every ``checkpoint_every`` steps holds everything (``checkpoint.py``); the data
order is a pure function of ``(seed, epoch)`` and the batches consumed (``data.py``), so a killed run
started again makes the same steps with the same losses as one that never stopped (on the CPU, with
``deterministic``; tests/test_colorize_resume.py kills one with SIGKILL and compares).

DDP under torchrun: the same loop in every rank, gradients averaged by DistributedDataParallel over an
equal share of the global batch; checkpoints, logs and grids from rank 0 only, always of the plain modules.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from pipeline.colorize.augment import Augment, unit
from pipeline.colorize.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from pipeline.colorize.config import TrainConfig
from pipeline.colorize.data import (
    Shard,
    TrainStream,
    eval_loader,
    first_samples,
    index_split,
    of_variant,
    plan_epoch,
    train_loader,
)
from pipeline.colorize.distributed import Dist, all_mean, gather
from pipeline.colorize.live import EpochLog, StepLog
from pipeline.colorize.losses import discriminator_loss, generator_loss, gradient_loss, l1_loss, ssim_loss
from pipeline.colorize.model import PatchGAN, UNet
from pipeline.colorize.validate import evaluate, generator_predict, picture_grid

CHECKPOINT, STEPS = "checkpoint.pt", "steps.jsonl"


@dataclass(frozen=True)
class RunPaths:
    data: Path  # the split: train/ and val/ shard folders
    state: Path  # this run's checkpoint.pt and steps.jsonl, kept between runs: what a restart resumes
    live: Path  # this run's DVCLive folder


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # the CUDA generators too


def fingerprint(cfg: TrainConfig, train: list[Shard], val: list[Shard]) -> str:
    """What a checkpoint must share with this run to be resumed: the schedule (more epochs), the device and
    the baselines may change, the model, losses, optimizer, data settings and data may not."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("schedule", "device", "baselines")}
    settings["data"] = {k: v for k, v in settings["data"].items() if k not in ("workers", "grid_samples", "grid_size")}
    shards = [[s.path.name, s.path.stat().st_size, list(s.keys)] for s in train + val]
    return hashlib.sha256(json.dumps([settings, shards], sort_keys=True).encode()).hexdigest()


class Trainer:
    """One run's modules, optimizers and position; ``state()``/``load()`` are the checkpoint dict."""

    def __init__(self, cfg: TrainConfig, d: Dist):
        self.cfg, self.d, dev = cfg, d, d.device
        torch.use_deterministic_algorithms(cfg.device.deterministic, warn_only=True)
        torch.backends.cudnn.benchmark = not cfg.device.deterministic
        seed_all(cfg.seed)  # the same initial weights on every rank
        self.G = UNet(cfg.generator).to(dev)
        self.D = PatchGAN(cfg.discriminator).to(dev) if cfg.mode == "gan" else None
        if d.world > 1 and "batch" in (cfg.generator.norm, cfg.discriminator.norm):
            if not d.cuda:
                raise ValueError("batch norm under DDP needs SyncBatchNorm (CUDA only): use norm: instance")
            self.G = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.G)
            if self.D is not None:
                self.D = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.D)
        o = cfg.optim
        adam = lambda m: torch.optim.Adam(m.parameters(), lr=o.lr, betas=(o.beta1, o.beta2))  # noqa: E731
        self.opt_g = adam(self.G)
        self.opt_d = adam(self.D) if self.D is not None else None
        precision = cfg.device.precision if d.cuda else "fp32"
        self.amp = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
        self.channels_last = d.cuda and cfg.device.channels_last
        self.step = self.epoch = self.batch = 0  # steps done; epoch under way; its batches done
        self.history: list[dict] = []  # one entry per finished epoch
        self.sums: dict[str, float] = {}  # this epoch's train losses so far, and how many steps
        self.count = 0
        self.pending: list = []  # steps whose losses are still tensors (flushed every log_every)
        self.seconds = 0.0  # spent training, over every process that worked on this run
        torch.manual_seed(int(np.random.SeedSequence([cfg.seed, d.rank]).generate_state(1)[0]))  # dropout

    def autocast(self):
        return torch.autocast("cuda", dtype=self.amp) if self.amp else contextlib.nullcontext()

    def wrap(self) -> None:
        """The forward passes: channels_last, DDP and compile around the plain modules, which stay as they are."""
        modules = [m for m in (self.G, self.D) if m is not None]
        if self.channels_last:
            for m in modules:
                m.to(memory_format=torch.channels_last)

        def forward(m, ddp: bool):
            if ddp and self.d.world > 1:
                m = DDP(m, device_ids=[self.d.device.index] if self.d.cuda else None)
            return torch.compile(m) if self.cfg.device.compile and self.d.cuda else m

        self.g_fwd = forward(self.G, True)
        if self.D is not None:
            self.d_fwd = forward(self.D, True)
            self.d_plain = forward(self.D, False)  # the generator's step: D's gradients are not needed

    def state(self, fp: str) -> dict:
        """The checkpoint dict (collective: every rank's RNG state is gathered)."""
        rng = gather(capture_rng(), self.d)
        return {"version": 1, "fingerprint": fp, "config": asdict(self.cfg), "mode": self.cfg.mode,
                "world": self.d.world, "workers": self.cfg.data.workers,
                "generator": self.G.state_dict(), "opt_g": self.opt_g.state_dict(),
                "discriminator": self.D.state_dict() if self.D is not None else None,
                "opt_d": self.opt_d.state_dict() if self.opt_d is not None else None,
                "scaler": self.scaler.state_dict(), "step": self.step, "epoch": self.epoch, "batch": self.batch,
                "history": self.history, "sums": self.sums, "count": self.count, "seconds": self.seconds,
                "rng": rng}

    def resume(self, path: Path, fp: str) -> str:
        """Load the checkpoint at ``path`` if it belongs to this run; say what was done."""
        if not path.exists():
            return "started"
        ckpt = load_checkpoint(path)
        if ckpt["fingerprint"] != fp:
            return "started afresh (the checkpoint there is of other settings or data)"
        if ckpt["batch"] and (ckpt["world"], ckpt["workers"]) != (self.d.world, self.cfg.data.workers):
            raise RuntimeError(f"{path}: stopped mid-epoch with {ckpt['world']} rank(s) x {ckpt['workers']} workers; "
                               f"resume with the same, or delete it to start afresh")
        self.G.load_state_dict(ckpt["generator"])
        self.opt_g.load_state_dict(ckpt["opt_g"])
        if self.D is not None:
            self.D.load_state_dict(ckpt["discriminator"])
            self.opt_d.load_state_dict(ckpt["opt_d"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.step, self.epoch, self.batch = ckpt["step"], ckpt["epoch"], ckpt["batch"]
        self.history, self.sums, self.count = ckpt["history"], ckpt["sums"], ckpt["count"]
        self.seconds = ckpt["seconds"]
        restore_rng(ckpt["rng"][self.d.rank % len(ckpt["rng"])])
        return f"resumed at step {self.step} (epoch {self.epoch}, batch {self.batch})"

    def set_lr(self, done: int, total: int) -> None:
        """Both optimizers' lr for the step after ``done`` of the run's ``total`` (``lr_factor``)."""
        lr = self.cfg.optim.lr * lr_factor(self.cfg.optim.decay, done, total)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups if opt is not None else ():
                group["lr"] = lr

    def train_step(self, line: torch.Tensor, color: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimisation step of D (gan mode) then G on a batch of uint8 pictures; the losses, detached."""
        dev, kind, losses = self.d.device, self.cfg.loss.adversarial, {}
        line, color = unit(line.to(dev, non_blocking=True)), unit(color.to(dev, non_blocking=True))
        if self.channels_last:
            line, color = (t.contiguous(memory_format=torch.channels_last) for t in (line, color))
        with self.autocast():
            fake = self.g_fwd(line)
        if self.D is not None:
            self.opt_d.zero_grad(set_to_none=True)
            with self.autocast():
                pairs = torch.cat([torch.cat([line, color], 1), torch.cat([line, fake.detach()], 1)], 0)
                real_logits, fake_logits = self.d_fwd(pairs).float().chunk(2)
            loss_d = discriminator_loss(kind, real_logits, fake_logits)
            self.scaler.scale(loss_d).backward()
            self.scaler.step(self.opt_d)
            losses["d"] = loss_d.detach()
        self.opt_g.zero_grad(set_to_none=True)
        l1 = l1_loss(fake.float(), color)
        loss_g = self.cfg.loss.l1_weight * l1
        if self.D is not None:
            self.D.requires_grad_(False)
            with self.autocast():
                adv = generator_loss(kind, self.d_plain(torch.cat([line, fake], 1)).float())
            self.D.requires_grad_(True)
            loss_g = loss_g + adv
            losses["g_adv"] = adv.detach()
            if self.cfg.loss.gradient_weight:
                grad = gradient_loss(fake.float(), color)
                loss_g = loss_g + self.cfg.loss.gradient_weight * grad
                losses["grad"] = grad.detach()
            if self.cfg.loss.ssim_weight:
                ssim = ssim_loss(fake.float(), color)
                loss_g = loss_g + self.cfg.loss.ssim_weight * ssim
                losses["ssim"] = ssim.detach()
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        losses["l1"] = l1.detach()
        return losses

    def flush(self, log: StepLog | None) -> list[dict]:
        """Turn the pending steps' losses into numbers (averaged over ranks), add them up, log them."""
        if not self.pending:
            return []
        names = sorted(self.pending[0][2])
        values = torch.stack([torch.stack([p[2][n].float() for n in names]) for p in self.pending]).cpu()
        values = all_mean(values, self.d).tolist()
        rows = [{"step": s, "epoch": e, **dict(zip(names, v, strict=True))}
                for (s, e, _), v in zip(self.pending, values, strict=True)]
        for row in rows:
            for n in names:
                self.sums[n] = self.sums.get(n, 0.0) + row[n]
        self.count += len(rows)
        self.pending = []
        if log is not None:
            log.append(rows)
        return rows


def lr_factor(decay: float, done: int, total: int) -> float:
    """The share of ``optim.lr`` for the step after ``done`` of ``total``: 1, then down in a straight line over the
    last ``decay`` of the steps to 1/(decay x total) on the last one (pix2pix's "linear" policy, per step). A
    pure function of the position, so a resumed run needs no scheduler state."""
    left = total - done  # steps still to make, this one included
    return 1.0 if decay <= 0 or left >= decay * total else max(left, 1) / (decay * total)


def fit(cfg: TrainConfig, d: Dist, paths: RunPaths, name: str, val_variant: str | None = None) -> tuple[Trainer, dict]:
    """Train (or resume, or find finished) one run; its trainer (``.G`` the generator) and last epoch's entry.
    Validation sees the val samples of ``val_variant`` (``None``: all of them)."""
    train, val = index_split(paths.data / "train"), of_variant(index_split(paths.data / "val"), val_variant)
    if cfg.data.batch_size % d.world:
        raise ValueError(f"data.batch_size {cfg.data.batch_size} must be a multiple of the {d.world} ranks")
    t = Trainer(cfg, d)
    fp = fingerprint(cfg, train, val)
    how = t.resume(paths.state / CHECKPOINT, fp)
    t.wrap()
    steps = StepLog(paths.state / STEPS) if d.main else None
    live = EpochLog(paths.live, t.history) if d.main else None
    if steps:
        steps.truncate(t.step)
        print(f"train {name}: {how}; {sum(len(s.keys) for s in train)} train, "
              f"{sum(len(s.keys) for s in val)} val pictures; {d.world} rank(s) on {d.device}", flush=True)
    grid = first_samples(val, cfg.data.grid_samples) if d.main else []
    while t.epoch < cfg.schedule.epochs:
        _epoch(t, train, paths, fp, steps, name)
        _end_epoch(t, val, paths, fp, steps, live, grid)
    if live:
        live.close()
    return t, (t.history[-1] if t.history else {})


def _epoch(t: Trainer, train: list[Shard], paths: RunPaths, fp: str, steps: StepLog | None, name: str) -> None:
    cfg, d = t.cfg, t.d
    plan = plan_epoch(train, cfg.seed, t.epoch, d.world, cfg.data.workers, cfg.data.batch_size // d.world)
    if not plan.steps:
        raise ValueError(f"train split: {len(train)} shard(s) give some rank no whole batch of "
                         f"{cfg.data.batch_size // d.world} (fewer ranks or workers, or a smaller batch)")
    aug = Augment(cfg.data.crop, cfg.data.flip, cfg.data.line_jitter)
    stream = TrainStream(plan, d.rank, cfg.data.batch_size // d.world, aug, cfg.data.shuffle_buffer, cfg.seed,
                         t.epoch, consumed=t.batch)
    batches = iter(train_loader(stream, cfg.data.workers, pin=d.cuda))
    tick, seen = time.perf_counter(), 0
    total = plan.steps * cfg.schedule.epochs
    for line, color in itertools.islice(batches, plan.steps - t.batch):
        t.set_lr(t.epoch * plan.steps + t.batch, total)
        t.pending.append((t.step + 1, t.epoch, t.train_step(line, color)))
        t.step, t.batch, seen = t.step + 1, t.batch + 1, seen + line.shape[0] * d.world
        if t.step % cfg.schedule.log_every == 0:
            row = t.flush(steps)[-1]
            if d.main:
                losses = " ".join(f"{k} {v:.4f}" for k, v in sorted(row.items()) if k not in ("step", "epoch"))
                print(f"train {name}: epoch {t.epoch + 1}/{cfg.schedule.epochs} batch {t.batch}/{plan.steps} "
                      f"step {t.step}: {losses}, {seen / (time.perf_counter() - tick):.1f} img/s", flush=True)
        if t.step % cfg.schedule.checkpoint_every == 0 and t.batch < plan.steps:
            t.flush(steps)
            t.seconds += time.perf_counter() - tick
            tick, seen = time.perf_counter(), 0
            _save(t, paths, fp)
    t.seconds += time.perf_counter() - tick
    del batches  # stops the loader's workers


def _end_epoch(t: Trainer, val: list[Shard], paths: RunPaths, fp: str, steps: StepLog | None,
               live: EpochLog | None, grid_samples: list) -> None:
    cfg, d = t.cfg, t.d
    t.flush(steps)
    t.G.eval()
    predict = generator_predict(t.G, d.device, t.autocast, t.channels_last)
    metrics = evaluate(predict, eval_loader(val, d.rank, d.world, cfg.data.workers, cfg.generator.factor,
                                            pin=d.cuda), d)
    entry = {"epoch": t.epoch + 1, "step": t.step, "seconds": round(t.seconds, 3),
             **{f"train/{k}": v / t.count for k, v in sorted(t.sums.items())},
             "val/l1": metrics["l1"], "val/psnr": metrics["psnr"]}
    grid = picture_grid(grid_samples, predict, cfg.generator.factor, cfg.data.grid_size, d.device) \
        if grid_samples else None
    t.G.train()
    t.history = [*t.history, entry]
    t.epoch, t.batch, t.sums, t.count = t.epoch + 1, 0, {}, 0
    _save(t, paths, fp)
    if live:
        live.log_epoch(entry, grid)
        print(f"  epoch {entry['epoch']}: val l1 {entry['val/l1']:.4f}, psnr {entry['val/psnr']:.2f} dB", flush=True)


def _save(t: Trainer, paths: RunPaths, fp: str) -> None:
    state = t.state(fp)  # every rank: gathers the RNG states
    if t.d.main:
        save_checkpoint(state, paths.state / CHECKPOINT)
