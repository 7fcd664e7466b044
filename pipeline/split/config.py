"""The split stage's settings: params.yaml ``split:`` maps onto ``SplitConfig`` (``pipeline.config``)."""

from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Ratios:
    train: float
    val: float
    test: float

    def __post_init__(self) -> None:
        values = (self.train, self.val, self.test)
        if min(values) < 0 or abs(sum(values) - 1.0) > 1e-9:
            raise ValueError(f"ratios must be non-negative and add up to 1, not {values}")

    def of(self, split: str) -> float:
        return getattr(self, split)


@dataclass(frozen=True)
class SplitConfig:
    """The ``split:`` section of params.yaml."""

    seed: int  # breaks ties between splits equally behind their ratio
    ratios: Ratios
    shard_size: int  # samples (colour/line pairs) per tar shard
    character_tags: tuple[str, ...]  # the tags whose per-split counts the report shows (booru type 4)

    def __post_init__(self) -> None:
        if self.shard_size < 1:
            raise ValueError("shard_size must be at least 1")
