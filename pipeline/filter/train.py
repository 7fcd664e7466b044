"""Out-of-fold training of the classifier: k models, each scoring only the pictures it never trained on.

Each head has two logits (``pipeline.filter.model.FilterNet``). The tag logit learns the tag weak labels,
a human verdict replacing its picture's tag label; the verdict logit learns the verdicts alone, which
together weigh ``human_weight`` times all the tag labels of their head (a few dozen verdicts are not
drowned by thousands of tags). A picture without a label is left out of that logit's loss. Scoring every picture with the model of its own fold exposes the tags' noise (a model that had
memorised a wrong tag would echo it) and gives calibration honest scores of the labelled pictures.

Seeded and deterministic on the CPU: each fold's initial weights, batch order and flips come from
``seed`` and the fold, and torch runs deterministic kernels on a fixed number of threads.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from pipeline.filter.config import HEADS, TrainConfig
from pipeline.filter.model import FilterNet


@dataclass
class Trained:
    models: list[FilterNet]
    oof: np.ndarray  # (N, logits) out-of-fold probabilities
    losses: list[list[float]]  # per fold, mean training loss per epoch


def train_folds(thumbs: np.ndarray, targets: np.ndarray, weights: np.ndarray, folds: np.ndarray,
                cfg: TrainConfig, progress: bool = True) -> Trained:
    """``thumbs`` (N, S, S, 3) uint8; ``targets`` (N, logits) in {0, 1} or NaN (no label); ``weights``
    (N, logits); ``folds`` (N,) in 0..k-1. Returns the k models and every picture's out-of-fold scores."""
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    oof = np.full(targets.shape, np.nan)
    models, losses = [], []
    for k in range(cfg.folds):
        train, held = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        model, history = _fit(thumbs[train], targets[train], weights[train], cfg, seed=cfg.seed * 1000 + k)
        if progress:
            print(f"classifier: fold {k + 1}/{cfg.folds}: {len(train)} trained, {len(held)} scored, "
                  f"loss {history[0]:.3f} -> {history[-1]:.3f}", file=sys.stderr, flush=True)
        oof[held] = predict(model, thumbs[held])
        models.append(model)
        losses.append(history)
    return Trained(models, oof, losses)


def _fit(thumbs: np.ndarray, targets: np.ndarray, weights: np.ndarray, cfg: TrainConfig, seed: int
         ) -> tuple[FilterNet, list[float]]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = FilterNet(cfg.net)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.2)
    known = ~np.isnan(targets)
    y = torch.from_numpy(np.nan_to_num(targets)).float()
    w = torch.from_numpy(np.where(known, weights, 0.0)).float()
    loss_fn = nn.BCEWithLogitsLoss(reduction="none")
    history, total, seen = [], 0.0, 0
    per_epoch = max(1, -(-len(thumbs) // cfg.batch_size))
    order = np.zeros(0, np.int64)
    model.train()
    for step in range(cfg.steps):
        while len(order) < cfg.batch_size:  # a new pass over the pictures, shuffled
            order = np.concatenate([order, rng.permutation(len(thumbs))])
        idx, order = order[:cfg.batch_size], order[cfg.batch_size:]
        x = _tensor(thumbs[idx])
        flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)  # size and clutter do not care
        loss = (loss_fn(model(x), y[idx]) * w[idx]).sum() / w[idx].sum().clamp(min=1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total, seen = total + float(loss.detach()), seen + 1
        if seen == per_epoch or step == cfg.steps - 1:
            history.append(total / seen)
            total, seen = 0.0, 0
    model.eval()
    return model, history


def _tensor(thumbs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(thumbs)).permute(0, 3, 1, 2).float() / 255.0


@torch.no_grad()
def predict(model: nn.Module, thumbs: np.ndarray, batch: int = 256) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model(_tensor(thumbs[i:i + batch]))).numpy() for i in range(0, len(thumbs), batch)]
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 2 * len(HEADS)))
