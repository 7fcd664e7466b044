"""The dedup stage's settings: params.yaml ``dedup:`` maps onto ``DedupConfig`` (``pipeline.config``).

No field has a default: params.yaml is the one place defaults live. Hashing settings decide the saved
hashes (they are part of every shard's name); search settings only decide what is made of saved hashes,
so changing them re-searches without decoding a picture.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HashParams:
    """What decides a file's saved hashes."""

    max_pixels: int  # larger files are reported (too_many_pixels) instead of decoded
    min_side: int  # smaller files are reported (too_small): nothing to compare


@dataclass(frozen=True)
class SearchParams:
    """What turns saved hashes into pairs and clusters."""

    phash_radius: int  # candidate search: pHash Hamming bits of 64
    dhash_radius: int  # finer check: dHash bits
    min_thumb_corr: float  # finer check: correlation of the 12x12 greyscale thumbnails
    max_aspect_change: float  # finer check: |log aspect-ratio change|
    backend: str  # candidate search: "mih" (exact multi-index search), "faiss" or "brute" (both flat, for checks)
    threads: int | None  # search threads (None: all cores)

    def __post_init__(self) -> None:
        if not 0 <= self.phash_radius <= 64 or not 0 <= self.dhash_radius <= 64:
            raise ValueError("phash_radius and dhash_radius are Hamming distances of 64-bit hashes: 0..64")
        if self.backend not in ("mih", "faiss", "brute"):
            raise ValueError(f"backend must be 'mih', 'faiss' or 'brute', not {self.backend!r}")


@dataclass(frozen=True)
class ReportParams:
    clusters: int  # largest clusters shown in the report
    pairs: int  # borderline pairs shown there


@dataclass(frozen=True)
class DedupConfig:
    """The ``dedup:`` section of params.yaml."""

    shard_size: int  # files per resumable hashing shard
    hashing: HashParams
    search: SearchParams
    report: ReportParams
