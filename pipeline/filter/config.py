"""The classifier's and the filter's settings: params.yaml ``filter:`` maps onto ``FilterConfig``.

No field has a default (params.yaml is the one place defaults live). Nothing here imports torch: the filter
stage reads these settings and scores with onnxruntime alone. The sections follow what each
setting decides, so dvc.yaml can list exactly the keys each stage reads:

- ``encode``: what is measured of each file (the saved features and thumbnails): a change re-decodes;
- ``weak`` and ``train``: the classifier's labels and training (the classifier stage only, which reads
  ``ClassifierConfig``'s keys; the filter stage reads ``FilterConfig``'s);
- ``palette``: how each character's colours are learnt from tags, and the figure they find (the classifier
  stage: the filter stage reads the learnt palette from ``models/scoring.json``);
- ``lines``: the line figure network, which finds the figure in the ink map alone, trained on the palette's
  figures (the classifier stage; the filter stage reads the network from ``models/lines.onnx``);
- ``calibration``: how human verdicts move each head's boundary (the classifier stage);
- ``rules``: the pixel and file rules' thresholds: a change only re-decides, from saved numbers;
- ``truth``: what "too small" and "too cluttered" mean when measuring against the sample corpus's truth
  (``truth.*`` metrics and the simulated reviewer only: never a decision).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pipeline.filter.palette import PaletteParams

HEADS = ("small", "clutter")  # P(character too small), P(drawing too cluttered): the classifier's outputs


@dataclass(frozen=True)
class NetConfig:
    """The CNN's shape (``pipeline.filter.model.FilterNet``)."""

    width: int  # channels of the first block; doubled per block up to 4x
    blocks: int  # conv blocks, each halving the side (64 px -> 4 px after 4)


@dataclass(frozen=True)
class TrainConfig:
    """Out-of-fold training (``pipeline.filter.train``)."""

    seed: int
    folds: int  # k: pictures are scored by the model of their fold, trained on the other k-1
    steps: int  # optimiser steps per fold, whatever the number of pictures (a small crawl still trains)
    batch_size: int
    lr: float
    weight_decay: float
    human_weight: float  # all verdicts of a head together, against all its tag labels, in the loss
    threads: int  # torch threads (fixed, so results do not depend on the machine's core count)
    net: NetConfig


@dataclass(frozen=True)
class LinesNetConfig:
    """The line figure network's shape (``pipeline.filter.model.LinesNet``)."""

    width: int  # channels of the first convolution; twice that after it


@dataclass(frozen=True)
class LinesConfig:
    """The line figure network's training (``pipeline.filter.lines_train``) and reading (``pipeline.filter.lines``)."""

    side: int  # the ink map is fitted into side x side; the figure grid is side / 4
    seed: int
    steps: int  # optimiser steps, whatever the number of pictures
    batch_size: int
    lr: float
    weight_decay: float
    threads: int
    net: LinesNetConfig

    def __post_init__(self) -> None:
        if self.side < 8 or self.side % 4:
            raise ValueError(f"lines.side must be a multiple of 4 of at least 8, got {self.side}")


def fold_of(md5: str, folds: int) -> int:
    """The fold a file belongs to, from its md5 alone: the same picture is in the same fold in every run,
    whatever else was crawled, so a rerun with more labels scores it with a model that never saw it (the
    training's split and the ONNX scorer's choice of weights)."""
    return int(hashlib.sha1(md5.encode()).hexdigest()[:8], 16) % folds


@dataclass(frozen=True)
class EncodeParams:
    shard_size: int  # files per resumable shard (data/cache/filter)
    max_pixels: int  # larger files are rejected (too_many_pixels), never decoded
    long_side: int  # the picture as decoded, long_side to twice that (JPEGs at 1/2-1/8 when possible)
    thumb: int  # the classifier's input: the picture fitted into thumb x thumb on white
    preview: int  # the report's thumbnails (long side), made at encoding so the report decodes nothing
    detail_colour: float  # at most this share of coloured pixels: grey tones measured at the decoded size
    screentone_levels: tuple[int, ...]  # printed flat greys of screentone (monochrome) pages
    palette: int  # long side of the heads' colour-bin and ink maps; rules and ink read twice it (maps.fit)
    ink_grey: float  # the grey of the line ink: a pixel this dark under its closing is all ink
    fine_ink: bool  # the ink map from the file's own pixels, each one line or not (``maps.ink_map``)

    def __post_init__(self) -> None:
        if min(self.shard_size, self.long_side, self.thumb, self.preview, self.palette) < 1:
            raise ValueError("encode: shard_size, long_side, thumb, preview and palette must be at least 1")
        if self.palette < max(self.thumb, self.preview):
            raise ValueError(f"encode.palette ({self.palette}) must be at least thumb and preview: the thumbnails "
                             "are made from the palette's picture")


@dataclass(frozen=True)
class WeakLabel:
    """A head's weak label from tags: 1 with a positive tag, 0 with a negative one, none with both or
    neither (a post tagged both ways is left to the human labels)."""

    positive: tuple[str, ...]
    negative: tuple[str, ...]


@dataclass(frozen=True)
class WeakParams:
    small: WeakLabel
    clutter: WeakLabel


@dataclass(frozen=True)
class CalibrationParams:
    """How verdicts turn each head's score into a probability (``pipeline.filter.calibrate``: the rule)."""

    min_labels: int  # verdicts on a head before the CNN's verdict logit scores it ...
    min_each: int  # ... with at least this many of each value
    prior_tags: float  # the prior's share on the tags' boundary (the rest: even over every rank)
    prior_width: float  # its width, in ranks (0.02: 2% of the pictures either side)
    sharpest: float  # the sharpest boundary a verdict may show: P(yes) from 0.12 to 0.88 over this many pictures
    lapse: float  # the share of verdicts taken as a coin toss (a picture the measure misreads, a misclick)
    threshold: float  # a head rejects a picture whose probability is at least this

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"calibration.threshold must be a probability strictly between 0 and 1, got "
                             f"{self.threshold}")
        if not (0.0 <= self.prior_tags < 1.0 and self.prior_width > 0.0):
            raise ValueError("calibration: prior_tags must be in [0, 1) and prior_width above 0")
        if not (self.sharpest > 0.0 and 0.0 <= self.lapse < 0.5):
            raise ValueError("calibration: sharpest must be above 0 pictures and lapse in [0, 0.5)")


@dataclass(frozen=True)
class RulesParams:
    min_side: int  # smaller pictures are rejected (resolution)
    max_aspect: float  # long side / short side above it is rejected (aspect)
    colour_max: float  # at most this share of coloured pixels: a grey picture (greyscale, monochrome, line art)
    fill_min: float  # a grey picture with less flat grey fill per line pixel is line art
    off_level_min: float  # a filled grey picture with less fill off the screentone levels is monochrome
    comic_panels: int  # at least this many bordered panels ...
    comic_cover: float  # ... covering at least this share of the page: a comic page
    animated: bool  # reject animated files (their first frame is what would be trained on)


@dataclass(frozen=True)
class TruthParams:
    char_area: float  # truth.small: characters cover less than this share of the picture
    clutter: float  # truth.clutter: the measured background clutter is above this


@dataclass(frozen=True)
class ReportParams:
    per_page: int  # rejected pictures per reason page of reports/filter/
    near_kept: int  # kept pictures nearest each threshold shown on the index


@dataclass(frozen=True)
class ClassifierConfig:
    """What the classifier stage reads of ``filter:`` (``pipeline.config.load_keys``)."""

    encode: EncodeParams
    weak: WeakParams
    train: TrainConfig
    palette: PaletteParams
    lines: LinesConfig
    calibration: CalibrationParams
    batch: int  # pictures per onnxruntime call


@dataclass(frozen=True)
class FilterConfig:
    """What the filter stage reads of ``filter:``."""

    encode: EncodeParams
    rules: RulesParams
    truth: TruthParams
    batch: int
    report: ReportParams

    def __post_init__(self) -> None:
        if self.rules.colour_max > self.encode.detail_colour:
            raise ValueError(f"rules.colour_max ({self.rules.colour_max}) is above encode.detail_colour "
                             f"({self.encode.detail_colour}): grey tones are only measured up to detail_colour")
