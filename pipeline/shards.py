"""The resumable sharded map every per-image stage runs on: input items -> one output row each.

Items (JSON-able keys such as ``(md5, path)``, sorted and de-duplicated) are cut into shards of
``shard_size``. A shard's file name carries a digest of its items, of the settings that decide its rows
and of the code version (``ShardedMap.version``), and the shard is written atomically as a manifest: its
presence is its completion marker (img2dataset's rule). So

- a killed run resumes by reading finished shards and computing only the rest;
- a changed input, setting or code version produces other names, so a stale shard is never trusted, and
  once a run completes the shards it did not name are removed (the cache does not grow stale);
- an item whose function raises becomes a row from ``error_row(item, reason)`` with the reason
  ``exception:<ExceptionType>``: never a crash, never a silent drop.

Work runs in ``workers`` processes (fork), with a progress bar on stderr. ``fn`` and ``error_row`` must
be picklable (module-level functions or ``functools.partial`` of them).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from pipeline.manifest import Manifest, write_manifest
from pipeline.store import clean_temp_files

logger = logging.getLogger("linecolor.shards")
Row = dict[str, Any]


@dataclass(frozen=True)
class ShardedMap:
    """What one sharded map computes: ``fn(item) -> row`` of ``manifest``, under ``settings`` and ``version``."""

    fn: Callable[[Any], Row]
    error_row: Callable[[Any, str], Row]  # the row of an item whose fn raised, given the reason
    manifest: Manifest  # each shard is one (its file name is the shard's, not manifest.file)
    version: str  # bump when fn's output changes: it renames (invalidates) every shard
    settings: Any = None  # JSON-able: what else decides the rows (a dataclass's asdict, say)
    desc: str = "shards"  # the progress bar's label
    warm_up: Callable[[], None] | None = None  # run once in the parent before forking workers

    def shard_name(self, index: int, items: Sequence[Any]) -> str:
        key = json.dumps([self.version, self.settings, list(items)], separators=(",", ":"), sort_keys=True)
        return f"{index:05d}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.parquet"


def run_sharded(spec: ShardedMap, items: Sequence[Any], shard_dir: Path | str, *, shard_size: int,
                workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """Every item's row (``spec.manifest``), in the manifest's order; finished shards are reused."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    items = sorted(set(map(_hashable, items)))
    shard_dir = Path(shard_dir)
    shard_dir.mkdir(parents=True, exist_ok=True)
    shards = [items[i:i + shard_size] for i in range(0, len(items), shard_size)]
    names = [spec.shard_name(k, s) for k, s in enumerate(shards)]
    todo = [k for k, name in enumerate(names) if not (shard_dir / name).exists()]
    bar = tqdm(total=len(items), desc=spec.desc, unit="item", file=sys.stderr, disable=not progress,
               mininterval=1.0)
    pool = None
    if workers > 1 and todo:
        if spec.warm_up is not None:
            spec.warm_up()  # before the fork: the workers inherit what it loaded
        pool = ProcessPoolExecutor(workers)
    call = partial(_safe_call, spec.fn, spec.error_row)

    def start(k: int) -> Iterator[Row]:
        return pool.map(call, shards[k], chunksize=8) if pool is not None else map(call, shards[k])

    # The next shard to do is queued before this one is read back, so the workers go on with it while this
    # process builds and writes this one (0.4-0.6 s a 2,000-file shard of the filter's encoding, the workers
    # idle meanwhile before); never more than two shards in flight, whatever the crawl's size.
    following, pending = dict(zip(todo, todo[1:], strict=False)), set(todo)  # shard -> the one after it
    queued: dict[int, Iterator[Row]] = {}
    frames: list[pd.DataFrame] = []
    try:
        for k, (shard, name) in enumerate(zip(shards, names, strict=True)):
            path = shard_dir / name
            if k not in pending:
                frames.append(pq.read_table(path).to_pandas())
                bar.update(len(shard))
                continue
            results = queued.pop(k) if k in queued else start(k)
            if pool is not None and k in following:
                queued[following[k]] = start(following[k])
            rows = []
            for row in results:
                rows.append(row)
                bar.update(1)
            table = write_manifest(pd.DataFrame(rows, columns=spec.manifest.names), path, spec.manifest)
            frames.append(table.to_pandas())  # what a resumed run reads from the file: the same dtypes
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)  # an interrupted run does not wait for the shard queued
    for stale in stale_shards(shard_dir, names):  # shards of an earlier input or version: never read again
        stale.unlink()
    clean_temp_files(shard_dir)  # what a killed writer left behind
    if not frames:
        return pa.Table.from_pylist([], schema=spec.manifest.schema).to_pandas()
    merged = pd.concat(frames, ignore_index=True)
    return merged.sort_values(list(spec.manifest.sort_by), kind="stable").reset_index(drop=True)


def stale_shards(shard_dir: Path | str, keep: Sequence[str]) -> list[Path]:
    """Shard files under ``shard_dir`` that the current input no longer names."""
    keep_set = set(keep)
    return [p for p in sorted(Path(shard_dir).glob("*.parquet")) if p.name not in keep_set]


def _safe_call(fn: Callable[[Any], Row], error_row: Callable[[Any, str], Row], item: Any) -> Row:
    try:
        return fn(item)
    except Exception as exc:  # noqa: BLE001 - one bad item is a row with a reason, not a dead run
        logger.warning("%r: %s: %s", item, type(exc).__name__, exc)
        return error_row(item, f"exception:{type(exc).__name__}")


def _hashable(item: Any) -> Any:
    return tuple(item) if isinstance(item, list) else item
