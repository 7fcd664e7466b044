"""Adversarial losses on PatchGAN logits (vanilla, LSGAN, hinge) and the L1 reconstruction term.

Every loss is a mean over patches and samples, so it does not grow with the batch or the picture, and
DDP's gradient averaging over ranks equals one process on the whole global batch.

- ``vanilla``: pix2pix's binary cross-entropy on logits (the discriminator's loss halved, as pix2pix does).
- ``lsgan``: least squares towards 1 (real) and 0 (fake) (Mao et al.).
- ``hinge``: the discriminator's ``relu(1 - real) + relu(1 + fake)``, the generator's ``-fake``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ADVERSARIAL = ("vanilla", "lsgan", "hinge")


def _check(kind: str) -> None:
    if kind not in ADVERSARIAL:
        raise ValueError(f"adversarial loss must be one of {ADVERSARIAL}, got {kind!r}")


def discriminator_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss on its logits for real pairs and for generated ones (lower is better)."""
    _check(kind)
    if kind == "vanilla":
        return 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    if kind == "lsgan":
        return 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake)))
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def generator_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss on the discriminator's logits for its outputs (lower is better)."""
    _check(kind)
    if kind == "vanilla":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind == "lsgan":
        return F.mse_loss(fake, torch.ones_like(fake))
    return -fake.mean()


def gradient_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the horizontal and vertical neighbour differences of output and target:
    zero only where the output is flat exactly where the target is and changes where it changes. L1 alone
    leaves the blotches and halos of an uncertain colour nearly free; SSIM and every per-part Delta E do not."""
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return 0.5 * ((dx(output) - dx(target)).abs().mean() + (dy(output) - dy(target)).abs().mean())


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error, on the [-1, 1] scale the networks work in."""
    return (output - target).abs().mean()
