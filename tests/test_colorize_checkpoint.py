"""The checkpoint dict: a save/load round trip is exact, and a trainer restored from it takes the same next step."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from pipeline.colorize.checkpoint import load_checkpoint, load_generator, save_checkpoint, save_model
from pipeline.colorize.distributed import Dist
from pipeline.colorize.train import Trainer
from tests.colorize_data import train_config

CPU = Dist(rank=0, world=1, local_rank=0, device=torch.device("cpu"))


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _batch(seed):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randint(0, 256, (4, c, 32, 32), generator=g, dtype=torch.uint8) for c in (1, 3))


@pytest.mark.parametrize("mode", ["gan", "l1"])
def test_round_trip_and_the_next_step_after_it(tmp_path, mode):
    cfg = train_config(tmp_path, mode=mode)
    torch.set_num_threads(1)
    a = Trainer(cfg, CPU)
    a.wrap()
    for i in range(3):
        a.train_step(*_batch(i))
    a.step, a.epoch, a.batch, a.history = 3, 1, 2, [{"epoch": 1, "val/l1": 0.5}]
    saved = a.state("fp")
    save_checkpoint(saved, tmp_path / "ckpt.pt")
    loaded = load_checkpoint(tmp_path / "ckpt.pt")  # weights_only: nothing but tensors and plain values
    assert _equal(saved, loaded)
    assert set(saved) >= {"generator", "discriminator", "opt_g", "opt_d", "scaler", "step", "epoch", "batch",
                          "config", "rng", "history"}

    # the uninterrupted run's next step, drawing (dropout) from the RNG state the checkpoint captured
    a_next = a.train_step(*_batch(9))

    b = Trainer(cfg, CPU)  # seeds every generator afresh: resume must put back the captured states
    assert not _equal(a.G.state_dict(), b.G.state_dict())
    random.random(), np.random.rand(), torch.rand(1)
    assert b.resume(tmp_path / "ckpt.pt", "fp").startswith("resumed at step 3")
    b.wrap()
    assert _equal(b.state("fp"), loaded)  # (saved holds references to a's live tensors)
    b_next = b.train_step(*_batch(9))
    assert _equal(a_next, b_next)
    assert _equal(a.G.state_dict(), b.G.state_dict())
    if mode == "gan":
        assert _equal(a.D.state_dict(), b.D.state_dict())
        assert _equal(a.opt_d.state_dict(), b.opt_d.state_dict())


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    cfg = train_config(tmp_path)
    a = Trainer(cfg, CPU)
    save_checkpoint(a.state("one"), tmp_path / "ckpt.pt")
    assert "afresh" in Trainer(cfg, CPU).resume(tmp_path / "ckpt.pt", "other")


def test_model_file_holds_the_generator_for_export(tmp_path):
    cfg = train_config(tmp_path)
    t = Trainer(cfg, CPU)
    save_model(t.G, {"mode": "gan", "step": 7}, tmp_path / "colorizer.pt")
    g, info = load_generator(tmp_path / "colorizer.pt")
    line = torch.rand(1, 1, 24, 40) * 2 - 1
    with torch.no_grad():
        assert torch.equal(g(line), t.G.eval()(line))
    assert info["step"] == 7 and info["format"] == "linecolor-colorizer/1"
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a colorizer model file"):
        load_generator(tmp_path / "other.pt")


@pytest.mark.parametrize("mode", ["gan", "l1"])
def test_the_flatness_terms_are_in_the_gan_loss_and_only_there(tmp_path, mode):
    """gradient_loss and ssim_loss are added to the GAN's generator loss with their weights (a step with them
    moves the generator elsewhere than one without); the L1 baseline stays L1 alone whatever they are."""
    line, color = _batch(3)
    steps = {}
    for w in (0.0, 100.0):
        cfg = train_config(tmp_path, mode=mode, loss={"gradient_weight": w, "ssim_weight": w})
        t = Trainer(cfg, CPU)
        t.wrap()
        losses = t.train_step(line, color)
        steps[w] = [p.detach().clone() for p in t.G.parameters()]
        flat = {"grad", "ssim"} if mode == "gan" and w else set()
        assert set(losses) == {"l1"} | ({"d", "g_adv"} if mode == "gan" else set()) | flat
    moved = any(not torch.equal(a, b) for a, b in zip(steps[0.0], steps[100.0], strict=True))
    assert moved is (mode == "gan")
