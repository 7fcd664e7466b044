"""Encoding on the shared sharded map: every distinct file the crawl fetched becomes one saved hash row.

Files (one per md5: exact duplicates are hashed once) are the items of ``pipeline.shards``; a shard's
name digests its files, ``HASH_VERSION`` and the ``HashParams``, so a killed run resumes where it was and
a changed setting never reuses a stale hash. The image folder itself is not part of the name: the same
files elsewhere hash the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from functools import partial
from pathlib import Path

import pandas as pd

from pipeline.dedup.config import HashParams
from pipeline.dedup.hashing import HASH_VERSION, hash_file, require_extension, warm_up
from pipeline.manifest import DEDUP_HASHES
from pipeline.shards import ShardedMap, run_sharded


def to_hex(value: int) -> str:
    return f"{value:016x}"


def hash_row(item: tuple[str, str], raw_dir: str, params: HashParams) -> dict:
    """The DEDUP_HASHES row of one ``(md5, path relative to raw_dir)``."""
    md5, rel = item
    r = hash_file(Path(raw_dir) / rel, params)
    ok = r.status == "ok"
    return {
        "md5": md5, "path": rel, "exact_hash": r.md5, "status": r.status, "reason": r.reason,
        "width": r.width, "height": r.height, "format": r.format, "lossless": r.lossless, "frames": r.frames,
        "phash": to_hex(r.phash) if ok else "", "dhash": to_hex(r.dhash) if ok else "", "thumb": r.thumb,
        "phash_mirror": to_hex(r.phash_mirror) if ok else "", "dhash_mirror": to_hex(r.dhash_mirror) if ok else "",
        "windows": r.windows, "align_thumb": r.align_thumb, "trim_phash": to_hex(r.trim_phash) if r.trimmed else "",
        "trim_dhash": to_hex(r.trim_dhash) if r.trimmed else "", "trim_thumb": r.trim_thumb if r.trimmed else b"",
        "trim_aspect": r.trim_aspect if r.trimmed else 0.0,
    }


def error_row(item: tuple[str, str], reason: str) -> dict:
    """The row of a file whose hashing raised: unreadable, with the exception's name as its reason."""
    md5, rel = item
    return {"md5": md5, "path": rel, "exact_hash": "", "status": "unreadable", "reason": reason, "width": 0,
            "height": 0, "format": "", "lossless": False, "frames": 0, "phash": "", "dhash": "", "thumb": b"",
            "phash_mirror": "", "dhash_mirror": "", "windows": b"", "align_thumb": b"", "trim_phash": "",
            "trim_dhash": "", "trim_thumb": b"", "trim_aspect": 0.0}


def hash_posts(posts: pd.DataFrame, raw_dir: Path | str, shard_dir: Path | str, params: HashParams, *,
               shard_size: int, workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """Hashes (DEDUP_HASHES rows, md5 order) of every distinct file the crawl fetched into ``raw_dir``."""
    require_extension()  # a missing build must stop the run, not turn every file into an error row
    ok = posts[posts["status"] == "ok"]
    files = list(zip(ok["md5"], ok["path"], strict=True))
    spec = ShardedMap(fn=partial(hash_row, raw_dir=str(raw_dir), params=params), error_row=error_row,
                      manifest=DEDUP_HASHES, version=f"dedup-hash-{HASH_VERSION}",
                      settings=asdict(params), desc="dedup: hashing", warm_up=warm_up)
    return run_sharded(spec, files, shard_dir, shard_size=shard_size, workers=workers, progress=progress)


def plain_robust_columns(hashes: pd.DataFrame) -> pd.DataFrame:
    """``hashes`` made without pictures (benchmarks, hand-made test stores: md5, phash, dhash, thumb, width,
    height) completed with the columns of the other paths as a picture that nothing mirrors, trims or
    crops would have them: mirror codes drawn from the md5 (as far from every code as random ones), no
    trimmed codes, window codes that are the pHash repeated, and a plain alignment thumbnail (which the
    crop path leaves alone)."""
    def far(h: str, salt: str) -> str:
        return hashlib.md5(f"{salt}{h}".encode()).hexdigest()[:16] if h else ""
    flip = [far(m + p, "p") if p else "" for m, p in zip(hashes["md5"], hashes["phash"], strict=True)]
    dflip = [far(m + d, "d") if d else "" for m, d in zip(hashes["md5"], hashes["dhash"], strict=True)]
    wins = [bytes.fromhex(h) * 17 if h else b"" for h in hashes["phash"]]
    plain = bytes([255]) * 48 * 48
    return hashes.assign(phash_mirror=flip, dhash_mirror=dflip, windows=wins,
                         align_thumb=[plain if h else b"" for h in hashes["phash"]], trim_phash="", trim_dhash="",
                         trim_thumb=b"", trim_aspect=0.0)
