"""The train stage's settings: ``params.yaml`` ``train:`` as frozen dataclasses, with no defaults.

params.yaml is the one place a default lives; ``pipeline.config.load_section(path, "train", TrainConfig)``
rejects a missing or unknown key. The cross-field rules (a crop the U-Net can take, a batch the ranks can
share, a discriminator that sees line and colour) are checked here, at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.colorize.losses import ADVERSARIAL
from pipeline.colorize.model import DiscriminatorConfig, GeneratorConfig

MODES = ("gan", "l1")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class LossConfig:
    adversarial: str  # vanilla | lsgan | hinge
    l1_weight: float  # lambda of the L1 term (pix2pix: 100)
    gradient_weight: float  # of the neighbour-difference term (losses.gradient_loss; pix2pix: 0), gan mode only
    ssim_weight: float  # of 1 - SSIM (losses.ssim_loss; pix2pix: 0), gan mode only


@dataclass(frozen=True)
class OptimConfig:
    lr: float  # Adam, both networks (pix2pix: 2e-4)
    beta1: float  # pix2pix: 0.5
    beta2: float
    decay: float  # the last share of the steps over which lr falls linearly to 0 (pix2pix: 0.5; 0: constant)


@dataclass(frozen=True)
class DataConfig:
    batch_size: int  # global batch per step, shared equally by the ranks
    workers: int  # DataLoader worker processes per rank (0: load in the training process)
    crop: int  # square random crop of the training pictures, a multiple of the U-Net's factor
    flip: bool  # random horizontal flips
    line_jitter: int  # line weight jitter: up to this many 2x2 erosions (thicker) or dilations (thinner)
    shuffle_buffer: int  # samples held to shuffle within a worker's stream (0: shard order only)
    grid_samples: int  # fixed val samples drawn every epoch in the line | output | truth grid
    grid_size: int  # pixels per picture in that grid


@dataclass(frozen=True)
class ScheduleConfig:
    epochs: int
    checkpoint_every: int  # steps between checkpoints (one is always written at each epoch's end)
    log_every: int  # steps between progress lines and step-log flushes


@dataclass(frozen=True)
class DeviceConfig:
    device: str  # auto (cuda when there is one) | cpu | cuda
    precision: str  # CUDA autocast: bf16 | fp16 (with a grad scaler) | fp32; the CPU always runs fp32
    channels_last: bool  # CUDA only
    compile: bool  # torch.compile the forward passes (CUDA only)
    deterministic: bool  # torch.use_deterministic_algorithms: exact resume on the CPU
    threads: int | None  # torch threads per process (null: the machine's cores shared by the local ranks)


@dataclass(frozen=True)
class BaselineConfig:
    trivial_samples: int  # train pictures the trivial baseline's two mean colours are measured on


@dataclass(frozen=True)
class TrainConfig:
    seed: int  # seeds python, numpy and torch; the data order and augmentation too
    mode: str  # gan (pix2pix: adversarial + L1) | l1 (the generator alone, L1 only)
    generator: GeneratorConfig
    discriminator: DiscriminatorConfig
    loss: LossConfig
    optim: OptimConfig
    data: DataConfig
    schedule: ScheduleConfig
    device: DeviceConfig
    baselines: BaselineConfig

    def __post_init__(self):
        g, d, data = self.generator, self.discriminator, self.data
        checks = [
            (self.mode in MODES, f"mode must be one of {MODES}, got {self.mode!r}"),
            (self.loss.adversarial in ADVERSARIAL, f"loss.adversarial must be one of {ADVERSARIAL}"),
            (self.device.device in DEVICES, f"device.device must be one of {DEVICES}"),
            (self.device.precision in PRECISIONS, f"device.precision must be one of {PRECISIONS}"),
            (d.in_channels == g.in_channels + g.out_channels,
             "discriminator.in_channels must be generator.in_channels + out_channels (it sees line and colour)"),
            (data.crop > 0 and data.crop % g.factor == 0,
             f"data.crop {data.crop} must be a positive multiple of the U-Net's factor 2**depth = {g.factor}"),
            (data.crop % 2**d.layers == 0 and data.crop // 2**d.layers > 2,
             f"data.crop {data.crop} is too small for a {d.layers}-layer PatchGAN"),
            (data.batch_size >= 1 and data.workers >= 0 and data.shuffle_buffer >= 0 and data.line_jitter >= 0,
             "data: batch_size >= 1; workers, shuffle_buffer and line_jitter >= 0"),
            (self.schedule.epochs >= 1 and self.schedule.checkpoint_every >= 1 and self.schedule.log_every >= 1,
             "schedule: epochs, checkpoint_every and log_every must be at least 1"),
            (0.0 <= self.optim.decay <= 1.0, "optim.decay must be in [0, 1]"),
            (self.device.threads is None or self.device.threads >= 1, "device.threads must be null or >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


@dataclass(frozen=True)
class LineartDefault:
    """The one ``lineart:`` key training reads: the variant it validates on (the one evaluate scores)."""

    default: str


@dataclass(frozen=True)
class ParityConfig:
    sizes: tuple[tuple[int, ...], ...]  # (height, width) of the inputs compared, multiples of the U-Net's factor
    batch: int  # pictures per input (the batch axis is dynamic too)
    tolerance: float  # the largest |onnxruntime - torch| allowed on the [-1, 1] output, fp32

    def __post_init__(self):
        if not self.sizes or any(len(s) != 2 or min(s) < 1 for s in self.sizes):
            raise ValueError("parity.sizes: a list of [height, width] pairs, at least one")
        if self.batch < 1 or self.tolerance <= 0:
            raise ValueError("parity: batch at least 1, tolerance positive")


@dataclass(frozen=True)
class ExportConfig:
    """The ``export:`` section of params.yaml: the ONNX model the colorize command runs."""

    opset: int  # ONNX opset (torch.onnx's dynamo exporter: 18 and up)
    parity: ParityConfig
    threads: int | None  # torch and onnxruntime threads for the parity check (null: their defaults)
