"""The evaluate stage's settings: params.yaml ``evaluate:`` and the two ``lineart:`` keys it depends on.

No field has a default (params.yaml is the one place defaults live). ``LineartView`` is read with
``pipeline.config.load_keys``: the evaluate stage needs the training resolution (to bring the corpus's part
map onto the test pictures' pixels) and the default variant's name (the line pictures it scores), nothing
else of the line-art stage's settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.evaluate.compare import BETTER
from pipeline.lineart.config import ResizeParams


@dataclass(frozen=True)
class LineartView:
    resize: ResizeParams  # how the test pictures were made from the files (and so how truth is brought to them)
    default: str  # the variant whose line pictures are scored (keys <id>_<default>)


@dataclass(frozen=True)
class EvaluateConfig:
    """The ``evaluate:`` section of params.yaml."""

    worst: int  # pictures shown first in reports/evaluate/index.html: the GAN's worst by rank_by
    spread: int  # then this many more at evenly spaced ranks, up to its best
    rank_by: str  # the metric that orders them (one of pipeline.evaluate.compare.BETTER)
    thumb: int  # pixels per picture in the report's grids
    threads: int | None  # torch threads (null: torch's default, every core)

    def __post_init__(self) -> None:
        if self.rank_by not in BETTER:
            raise ValueError(f"rank_by must be one of {sorted(BETTER)}, not {self.rank_by!r}")
        if self.worst < 0 or self.spread < 0 or self.thumb < 16 or (self.threads is not None and self.threads < 1):
            raise ValueError("worst and spread must be 0 or more, thumb at least 16, threads null or at least 1")
