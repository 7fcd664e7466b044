"""Adversarial losses on PatchGAN logits (vanilla, LSGAN, hinge), the L1 reconstruction term and two terms
that cost an uncertain colour's blotches (neighbour differences, SSIM).

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


def ssim_loss(output: torch.Tensor, target: torch.Tensor, window: int = 7) -> torch.Tensor:
    """1 - SSIM, computed as ``skimage.metrics.structural_similarity`` computes the figure evaluate reports
    (a uniform ``window`` x ``window`` mean, sample covariances, K1 0.01, K2 0.03, each channel, valid
    windows only) on the [0, 1] scale (its luminance term is not shift-invariant: the networks' [-1, 1]
    would give another figure). L1 prices an error by its size alone; SSIM by
    whether the output is flat where the truth is flat, which is what a cel-shaded picture mostly is."""
    c1, c2, n = 0.01**2, 0.03**2, window * window
    o, t = (output + 1) / 2, (target + 1) / 2
    c = o.shape[1]
    # the five local means in one depthwise convolution with a box kernel: avg_pool2d gives the same
    # figures but its CPU kernels cost ~3x (fwd + bwd at 4x3x128x128 on one thread: 81 ms, this ~32 ms)
    maps = torch.cat([o, t, o * o, t * t, o * t], 1)
    box = torch.full((5 * c, 1, window, window), 1.0 / n, dtype=o.dtype, device=o.device)
    mo, mt, moo, mtt, mot = F.conv2d(maps, box, groups=5 * c).split(c, 1)
    cov = n / (n - 1)
    vo, vt, vot = cov * (moo - mo * mo), cov * (mtt - mt * mt), cov * (mot - mo * mt)
    s = ((2 * mo * mt + c1) * (2 * vot + c2)) / ((mo * mo + mt * mt + c1) * (vo + vt + c2))
    return 1.0 - s.mean()


def l1_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error, on the [-1, 1] scale the networks work in."""
    return (output - target).abs().mean()
