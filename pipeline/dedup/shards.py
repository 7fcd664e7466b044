"""Hash a store's files in parallel worker processes, in resumable shards.

Files (one per distinct md5; exact duplicates are hashed once) are cut, in md5 order, into shards of
``shard_size``. A shard's name carries a digest of its files and of everything that decides its hashes
(``HASH_VERSION``, ``max_pixels``, ``min_side``), and the shard file is written atomically: its presence is
its completion marker. A killed run resumes by loading finished shards and hashing only the rest; a changed
input or setting produces new names, so a stale shard is never trusted.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from tqdm import tqdm

from pipeline.dedup.hashing import HASH_VERSION, hash_file, warm_up
from pipeline.manifest import DEDUP_HASHES, write_manifest
from pipeline.store import clean_temp_files

HASH_COLUMNS = DEDUP_HASHES.names


def to_hex(value: int) -> str:
    return f"{value:016x}"


def _hash_one(item: tuple[str, str], raw_dir: str, max_pixels: int, min_side: int) -> dict:
    md5, rel = item
    r = hash_file(Path(raw_dir) / rel, max_pixels, min_side)
    ok = r.status == "ok"
    return {
        "md5": md5, "path": rel, "exact_hash": r.md5, "status": r.status, "reason": r.reason,
        "width": r.width, "height": r.height, "format": r.format, "lossless": r.lossless, "frames": r.frames,
        "phash": to_hex(r.phash) if ok else "", "dhash": to_hex(r.dhash) if ok else "", "thumb": r.thumb,
    }


def shard_name(index: int, items: list[tuple[str, str]], max_pixels: int, min_side: int) -> str:
    key = json.dumps([HASH_VERSION, max_pixels, min_side, items], separators=(",", ":"))
    return f"{index:05d}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.parquet"


def hash_store(files: list[tuple[str, str]], raw_dir: Path | str, shard_dir: Path | str, *,
               shard_size: int = 2000, workers: int = 1, max_pixels: int = 100_000_000, min_side: int = 16,
               progress: bool = True) -> pd.DataFrame:
    """Hashes of ``files`` (``(md5, path relative to raw_dir)``), one row each, sorted by md5.

    Finished shards under ``shard_dir`` are reused; the rest are hashed by ``workers`` processes.
    """
    files = sorted(set(files))
    shard_dir = Path(shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    shards = [files[i:i + shard_size] for i in range(0, len(files), shard_size)]
    names = [shard_name(k, s, max_pixels, min_side) for k, s in enumerate(shards)]
    frames: list[pd.DataFrame] = []
    bar = tqdm(total=len(files), desc="dedup: hashing", unit="img", file=sys.stderr, disable=not progress,
               mininterval=1.0)
    fn = partial(_hash_one, raw_dir=str(raw_dir), max_pixels=max_pixels, min_side=min_side)
    pool = None
    if workers > 1 and not all((shard_dir / name).exists() for name in names):
        warm_up()  # before the fork: the workers inherit what it loaded
        pool = ProcessPoolExecutor(workers)
    try:
        for items, name in zip(shards, names, strict=True):
            path = shard_dir / name
            if path.exists():
                frames.append(pq.read_table(path).to_pandas())
                bar.update(len(items))
                continue
            rows = []
            results = pool.map(fn, items, chunksize=8) if pool is not None else map(fn, items)
            for row in results:
                rows.append(row)
                bar.update(1)
            df = pd.DataFrame(rows, columns=HASH_COLUMNS)
            write_manifest(df, path, DEDUP_HASHES, sort_by="md5")
            frames.append(df)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown()
    for stale in stale_shards(shard_dir, names):  # shards of an earlier input: never read again
        stale.unlink()
    clean_temp_files(shard_dir)  # what a killed writer left behind
    if not frames:
        return pd.DataFrame(columns=HASH_COLUMNS)
    return pd.concat(frames, ignore_index=True).sort_values("md5", kind="stable").reset_index(drop=True)


def stale_shards(shard_dir: Path | str, keep: list[str]) -> list[Path]:
    """Shard files under ``shard_dir`` that the current input no longer names."""
    keep_set = set(keep)
    return [p for p in sorted(Path(shard_dir).glob("*.parquet")) if p.name not in keep_set]
