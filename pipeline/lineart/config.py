"""The line-art stage's settings: params.yaml ``lineart:`` maps onto ``LineartConfig`` (``pipeline.config``).

No field has a default: params.yaml is the one place defaults live. ``ResizeParams`` says how a picture
is brought to the training resolution; ``Methods`` holds every extraction method's settings once, and each
``Variant`` (one line picture per kept picture) names a method and a line weight. Everything but
``report`` decides the stage's files, so it is part of every shard's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import ConfigError, TruthSource, from_mapping, load_truth_source  # noqa: F401 - re-exported

FITS = ("pad", "crop")
CHANNELS = ("value", "luma")
METHODS = ("xdog", "dilate", "adaptive")
SAMPLE_SOURCE = "sample"  # crawl.source of the embedded sample booru (pipeline.crawl.config.SAMPLE_SOURCE)


@dataclass(frozen=True)
class ResizeParams:
    """The training resolution: scale, then pad (or crop) both sides to a multiple of ``multiple``."""

    long_side: int  # the longer side after scaling (area resampling)
    upscale: bool  # enlarge a picture whose long side is shorter (else it keeps its pixels and is padded)
    multiple: int  # both output sides are multiples of it (a U-Net of depth d needs 2**d)
    fit: str  # pad: centred on pad_color | crop: centred (a side shorter than one multiple is padded)
    pad_color: tuple[int, ...]  # RGB of the colour picture's padding; a line picture's padding is white
    draft: bool  # decode a JPEG at 1/2, 1/4 or 1/8 scale when that still leaves twice the scaled size

    def __post_init__(self) -> None:
        if self.long_side < 1 or self.multiple < 1:
            raise ValueError("long_side and multiple must be at least 1")
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, not {self.fit!r}")
        if len(self.pad_color) != 3 or not all(0 <= c <= 255 for c in self.pad_color):
            raise ValueError(f"pad_color must be three 0-255 values (RGB), not {list(self.pad_color)}")


@dataclass(frozen=True)
class XDoG:
    """Winnemoeller's XDoG on grey in [0, 1]: D = G(sigma) - gamma G(k sigma), T = 1 + tanh(phi (D - epsilon))
    below epsilon (else 1); the line picture is 255 T, so ink (< 128) where T < 0.5."""

    sigma: float  # the inner Gaussian's standard deviation, pixels
    k: float  # the outer one's, as a multiple of sigma
    gamma: float
    epsilon: float
    phi: float  # steepness of the tanh ramp below epsilon (1e9: binary)

    def __post_init__(self) -> None:
        if self.sigma <= 0 or self.k <= 0 or self.phi <= 0:
            raise ValueError("xdog: sigma, k and phi must be positive")


@dataclass(frozen=True)
class Dilate:
    """Dilate and subtract: ink where a pixel is darker than its brightest neighbour by ``threshold`` of it."""

    kernel: int  # the neighbourhood's diameter in pixels (odd): an ellipse
    threshold: float  # (max - grey) / max(max, floor) above it is ink
    floor: float  # least brightness the darkening is measured against: JPEG noise in black flats stays paper

    def __post_init__(self) -> None:
        if self.kernel < 3 or self.kernel % 2 == 0 or self.floor <= 0:
            raise ValueError(f"dilate: kernel must be odd and at least 3 (not {self.kernel}), floor positive")


@dataclass(frozen=True)
class Adaptive:
    """OpenCV's mean adaptive threshold: ink where grey < the ``block`` mean minus ``c`` (0-255 levels)."""

    block: int  # odd, at least 3
    c: float

    def __post_init__(self) -> None:
        if self.block < 3 or self.block % 2 == 0:
            raise ValueError(f"adaptive.block must be odd and at least 3, not {self.block}")


@dataclass(frozen=True)
class Methods:
    xdog: XDoG
    dilate: Dilate
    adaptive: Adaptive


@dataclass(frozen=True)
class Variant:
    """One line picture made of every kept picture."""

    name: str  # the pairs manifest's `variant`
    method: str  # one of METHODS
    thicken: int  # line weight: ink grown by this many pixels (0: as extracted)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"variant {self.name!r}: method must be one of {METHODS}, not {self.method!r}")
        if self.thicken < 0:
            raise ValueError(f"variant {self.name!r}: thicken must be 0 or more")


@dataclass(frozen=True)
class ReportParams:
    worst: int  # lowest-F1 pictures shown first in reports/lineart/index.html
    spread: int  # then this many more at evenly spaced ranks (typical to best)


class _Lines:
    """What a config that names line variants checks and offers (``LineartConfig``, ``Extraction``)."""

    variants: tuple[Variant, ...]
    default: str
    channel: str

    def __post_init__(self) -> None:
        names = [v.name for v in self.variants]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"variants need distinct names, at least one: {names}")
        if self.default not in names:
            raise ValueError(f"default {self.default!r} is not a variant name: {names}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, not {self.channel!r}")

    @property
    def default_variant(self) -> Variant:
        return next(v for v in self.variants if v.name == self.default)


@dataclass(frozen=True)
class LineartConfig(_Lines):
    """The ``lineart:`` section of params.yaml."""

    shard_size: int  # pictures per resumable shard
    max_pixels: int  # larger files are failed rows (too_many_pixels), never decoded
    resize: ResizeParams
    channel: str  # the grey every method sees: value (max of R, G, B) | luma (ITU-R 601)
    methods: Methods
    variants: tuple[Variant, ...]
    default: str  # the variant scored as truth.f1
    report: ReportParams


@dataclass(frozen=True)
class Extraction(_Lines):
    """What turns a picture into the line picture a model was trained on: the ``lineart:`` keys that decide
    it and nothing of the stage's bookkeeping. The export stage writes it into the ONNX model (as JSON), so
    ``python -m pipeline.colorize`` extracts a user's colour picture exactly as training did."""

    max_pixels: int
    resize: ResizeParams
    channel: str
    methods: Methods
    variants: tuple[Variant, ...]
    default: str
