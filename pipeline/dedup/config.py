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
    trim_radius: int  # trimmed path: pHash bits between the contents once uniform margins are trimmed
    mirror: bool  # a copy mirrored left to right counts as a duplicate
    window_radius: int  # crop path: bits between a file's whole-picture code and another's nearest window code
    min_aligned_corr: float  # crop path: correlation of the aligned 48x48 thumbnails
    min_aligned_agree: float  # crop path: share of strong gradients of the aligned thumbnails whose signs agree
    min_figure_corr: float  # crop path, pixel-exact alignment: correlation inside the figures
    min_plain_figure_corr: float  # direct and mirror paths, mostly plain pictures: correlation inside the figures
    min_rescaled_agree: float  # crop path, free alignment (a crop also resized): gradient agreement
    window_max_flat: float  # over this share of plain background a picture is "mostly plain" (robust.flat_share)
    max_cut: float  # crop path: the most the alignment may cut off a side of the larger picture
    backend: str  # candidate search: "mih" (exact multi-index search), "faiss" or "brute" (both flat, for checks)
    threads: int | None  # search threads (None: all cores)

    def __post_init__(self) -> None:
        if not all(0 <= r <= 64 for r in (self.phash_radius, self.dhash_radius, self.window_radius, self.trim_radius)):
            raise ValueError("phash_radius, dhash_radius and window_radius are Hamming distances of 64-bit "
                             "hashes: 0..64")
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
