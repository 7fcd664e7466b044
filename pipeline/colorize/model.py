"""The colorizer's networks: a pix2pix U-Net generator and a PatchGAN discriminator, with their configs.

Modules and config dataclasses only (nanoGPT style): the training loop, losses and data live beside it.
Plain torch, no torchvision. Every layer exports to ONNX with dynamic height and width (checked by
tests/test_colorize_model.py against onnxruntime): convolutions, transposed convolutions, instance or
batch norm, (leaky) ReLU, dropout, tanh and channel concatenation.

pix2pix (Isola et al. 2017) is the baseline kept to beat: its ``unet_256`` is ``width=64, depth=8,
max_mult=8, norm=instance, dropout=0.5, dropout_blocks=3`` and its 70x70 PatchGAN is ``width=64,
layers=3``. Instance norm, not batch norm, is the default: it needs no statistics shared across GPUs.
With it, the biases of convolutions that an instance norm follows are left out: the norm's mean
subtraction cancels them (pix2pix keeps them; the networks compute the same functions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

NORMS = ("instance", "batch", "none")


@dataclass(frozen=True)
class GeneratorConfig:
    """U-Net: ``depth`` stride-2 encoder blocks, mirrored by the decoder, with skip connections."""

    in_channels: int  # 1: the line image
    out_channels: int  # 3: RGB
    width: int  # channels of the first block (pix2pix: 64)
    depth: int  # down-samplings: height and width must be multiples of 2**depth (pix2pix 256 px: 8)
    max_mult: int  # block i has width * min(2**i, max_mult) channels (pix2pix: 8)
    norm: str  # instance | batch | none
    dropout: float  # dropout in the decoder blocks next to the bottleneck (pix2pix: 0.5)
    dropout_blocks: int  # how many of them (pix2pix: 3)

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"generator.norm must be one of {NORMS}, got {self.norm!r}")
        if self.depth < 2 or self.width < 1 or self.max_mult < 1:
            raise ValueError("generator: depth must be at least 2, width and max_mult at least 1")
        if not 0.0 <= self.dropout < 1.0 or self.dropout_blocks < 0:
            raise ValueError("generator: dropout must be in [0, 1) and dropout_blocks >= 0")

    @property
    def factor(self) -> int:
        """Height and width of an input must be multiples of this."""
        return 2**self.depth


@dataclass(frozen=True)
class DiscriminatorConfig:
    """PatchGAN: scores overlapping patches of (line, colour) pairs as real or generated."""

    in_channels: int  # line + colour: 4
    width: int  # channels of the first layer (pix2pix: 64)
    layers: int  # stride-2 layers: 3 gives pix2pix's 70x70 receptive field
    max_mult: int  # channel cap, as in the generator (pix2pix: 8)
    norm: str  # instance | batch | none

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"discriminator.norm must be one of {NORMS}, got {self.norm!r}")
        if self.layers < 1 or self.width < 1 or self.max_mult < 1:
            raise ValueError("discriminator: layers, width and max_mult must be at least 1")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":  # no affine, no running stats: as pix2pix, and the same in train and eval
        return nn.InstanceNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


def _bias(norm: str, normed: bool) -> bool:
    """Whether a convolution gets a bias. Not before an instance norm, whose mean subtraction cancels it (its
    gradient is rounding noise that Adam would turn into full-size steps); not before a batch norm, whose
    shift replaces it, nor anywhere else with batch norm, as pix2pix does."""
    return norm == "none" or (norm == "instance" and not normed)


def init_weights(module: nn.Module) -> None:
    """pix2pix's initialisation: convolutions N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class UNet(nn.Module):
    """pix2pix's U-Net: encoder C64-C128-C256-C512..., decoder mirrored, skips concatenated.

    Input: the line image in [-1, 1] (N, in_channels, H, W), H and W multiples of ``config.factor``, any
    aspect ratio. Output: colours in [-1, 1] (tanh), (N, out_channels, H, W).
    """

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = c = config
        widths = [c.width * min(2**i, c.max_mult) for i in range(c.depth)]
        self.down = nn.ModuleList()
        for i in range(c.depth):
            normed = 0 < i < c.depth - 1  # no norm on the input layer (pix2pix) nor the bottleneck (1x1 at depth 8)
            self.down.append(nn.Sequential(
                nn.LeakyReLU(0.2) if i else nn.Identity(),
                nn.Conv2d(widths[i - 1] if i else c.in_channels, widths[i], 4, 2, 1, bias=_bias(c.norm, normed)),
                _norm(c.norm, widths[i]) if normed else nn.Identity(),
            ))
        self.up = nn.ModuleList()
        for i in reversed(range(c.depth)):
            inner, outer = i == c.depth - 1, i == 0
            level_from_inner = c.depth - 1 - i  # 0 at the bottleneck
            drop = c.dropout if 1 <= level_from_inner <= c.dropout_blocks and c.dropout > 0 else 0.0
            self.up.append(nn.Sequential(
                nn.ReLU(),
                nn.ConvTranspose2d(widths[i] * (1 if inner else 2), c.out_channels if outer else widths[i - 1],
                                   4, 2, 1, bias=outer or _bias(c.norm, True)),
                nn.Tanh() if outer else _norm(c.norm, widths[i - 1]),
                nn.Dropout(drop) if drop else nn.Identity(),
            ))
        init_weights(self)

    def forward(self, line: torch.Tensor) -> torch.Tensor:
        f = self.config.factor
        torch._check(line.shape[-2] % f == 0 and line.shape[-1] % f == 0,
                     lambda: f"U-Net input {tuple(line.shape[-2:])}: height and width must be multiples of {f}")
        skips = []
        h = line
        for block in self.down:
            h = block(h)
            skips.append(h)
        h = self.up[0](skips.pop())
        for block in self.up[1:]:
            h = block(torch.cat([skips.pop(), h], 1))
        return h


class PatchGAN(nn.Module):
    """pix2pix's N-layer discriminator: one logit per patch, (N, 1, H/2**layers - 2, W/2**layers - 2)."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = c = config
        mults = [min(2**n, c.max_mult) for n in range(c.layers + 1)]
        layers: list[nn.Module] = [nn.Conv2d(c.in_channels, c.width, 4, 2, 1), nn.LeakyReLU(0.2)]
        for n in range(1, c.layers + 1):
            stride = 2 if n < c.layers else 1
            layers += [nn.Conv2d(c.width * mults[n - 1], c.width * mults[n], 4, stride, 1, bias=_bias(c.norm, True)),
                       _norm(c.norm, c.width * mults[n]), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(c.width * mults[c.layers], 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, pair: torch.Tensor) -> torch.Tensor:
        """``pair``: the line image and a colouring concatenated on channels, (N, in_channels, H, W)."""
        return self.net(pair)
