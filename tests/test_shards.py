"""The shared sharded map: resumable by shard, parallel, stale shards dropped, a raising item is a row."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from pipeline.manifest import Manifest
from pipeline.shards import ShardedMap, run_sharded

ROWS = Manifest("squares.parquet", pa.schema([
    ("item", pa.string()), ("square", pa.int64()), ("status", pa.string()), ("reason", pa.string())]), ("item",))


def square(item: str, log: str, offset: int = 0) -> dict:
    with open(log, "a") as f:  # which items were computed, from whichever process
        f.write(item + "\n")
    n = int(item)
    if n % 7 == 3:
        raise ZeroDivisionError("planted")
    return {"item": item, "square": n * n + offset, "status": "ok", "reason": ""}


def failed(item: str, reason: str) -> dict:
    return {"item": item, "square": -1, "status": "failed", "reason": reason}


def spec(log: Path, offset: int = 0, version: str = "1") -> ShardedMap:
    return ShardedMap(fn=partial(square, log=str(log), offset=offset), error_row=failed, manifest=ROWS,
                      version=version, settings={"offset": offset}, desc="test")


def computed(log: Path) -> list[str]:
    items = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return sorted(items)


ITEMS = [f"{i:03d}" for i in range(45)]


@pytest.mark.parametrize("workers", [1, 2])
def test_every_item_gives_one_row_and_a_raising_item_a_reason(tmp_path, workers):
    log = tmp_path / "log"
    df = run_sharded(spec(log), ITEMS[::-1] + ITEMS[:5], tmp_path / "s", shard_size=10, workers=workers,
                     progress=False)
    assert df["item"].tolist() == ITEMS  # one row per distinct item, in the manifest's order
    bad = df["item"].astype(int) % 7 == 3
    assert (df.loc[bad, "reason"] == "exception:ZeroDivisionError").all() and (df.loc[bad, "status"] == "failed").all()
    assert (df.loc[~bad, "square"] == df.loc[~bad, "item"].astype(int) ** 2).all()
    assert computed(log) == ITEMS
    assert len(list((tmp_path / "s").glob("*.parquet"))) == 5


def test_resume_computes_only_missing_shards_and_returns_the_same_rows(tmp_path):
    log, shards = tmp_path / "log", tmp_path / "s"
    first = run_sharded(spec(log), ITEMS, shards, shard_size=10, progress=False)
    computed(log)
    files = sorted(shards.glob("*.parquet"))
    files[1].unlink()  # as if killed while writing shard 1 ...
    files[3].unlink()  # ... and shard 3 lost: the one queued while 1 is written comes after a finished one
    (shards / ".tmp-half.parquet").write_bytes(b"junk")
    second = run_sharded(spec(log), ITEMS, shards, shard_size=10, workers=2, progress=False)
    assert computed(log) == ITEMS[10:20] + ITEMS[30:40]
    pd.testing.assert_frame_equal(first, second)
    assert sorted(shards.iterdir()) == files  # the temp file is gone, the shard is back


def test_a_new_setting_version_or_input_renames_shards_and_drops_the_stale_ones(tmp_path):
    log, shards = tmp_path / "log", tmp_path / "s"
    run_sharded(spec(log), ITEMS, shards, shard_size=10, progress=False)
    before = {p.name for p in shards.glob("*.parquet")}
    computed(log)
    df = run_sharded(spec(log, offset=1), ITEMS, shards, shard_size=10, progress=False)
    assert computed(log) == ITEMS and (df.loc[df.status == "ok", "square"] % 2 == 1).any()
    after = {p.name for p in shards.glob("*.parquet")}
    assert len(after) == 5 and not after & before
    run_sharded(spec(log, offset=1, version="2"), ITEMS, shards, shard_size=10, progress=False)
    assert computed(log) == ITEMS
    run_sharded(spec(log, offset=1, version="2"), ITEMS[:12], shards, shard_size=10, progress=False)
    assert computed(log) == ITEMS[10:12]  # the first shard's items are unchanged: reused
    assert len(list(shards.glob("*.parquet"))) == 2


def test_no_items_gives_an_empty_frame_of_the_manifests_columns(tmp_path):
    df = run_sharded(spec(tmp_path / "log"), [], tmp_path / "s", shard_size=10, progress=False)
    assert list(df.columns) == ROWS.names and len(df) == 0
    with pytest.raises(ValueError, match="shard_size"):
        run_sharded(spec(tmp_path / "log"), ITEMS, tmp_path / "s", shard_size=0, progress=False)
