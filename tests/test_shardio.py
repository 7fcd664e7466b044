"""Sample shards: WebDataset-convention tars, deterministic, atomic, streamed back in order."""

from __future__ import annotations

import tarfile

import pytest

from pipeline.shardio import ShardError, ShardWriter, iter_samples, list_keys, shard_paths


def _samples(n):
    return [(f"k{i:03d}", {"color.png": bytes([i]) * (i + 1), "line.png": b"L" * i, "json": b'{"id": %d}' % i})
            for i in range(n)]


def test_round_trip_in_order_across_shards(tmp_path):
    with ShardWriter(tmp_path, max_samples=4) as w:
        for key, parts in _samples(10):
            w.write(key, parts)
    paths = shard_paths(tmp_path)
    assert [p.name for p in paths] == ["shard-00000.tar", "shard-00001.tar", "shard-00002.tar"]
    assert w.paths == paths
    back = [s for p in paths for s in iter_samples(p)]
    assert back == _samples(10)
    assert [list_keys(p) for p in paths] == [["k000", "k001", "k002", "k003"], ["k004", "k005", "k006", "k007"],
                                             ["k008", "k009"]]
    # the WebDataset convention: <key>.<part>, a sample's files consecutive, no times or owners
    with tarfile.open(paths[0]) as tar:
        members = tar.getmembers()
    assert [m.name for m in members[:3]] == ["k000.color.png", "k000.json", "k000.line.png"]
    assert {(m.mtime, m.uid, m.uname, m.mode) for m in members} == {(0, 0, "", 0o444)}


def test_same_samples_same_bytes(tmp_path):
    for name in ("a", "b"):
        with ShardWriter(tmp_path / name, max_samples=3) as w:
            for key, parts in _samples(5):
                w.write(key, parts)
    assert [p.read_bytes() for p in shard_paths(tmp_path / "a")] == [p.read_bytes() for p in shard_paths(tmp_path / "b")]


def test_a_failed_write_leaves_no_half_shard(tmp_path):
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, max_samples=4) as w:
        for key, parts in _samples(6):
            w.write(key, parts)
        raise RuntimeError("killed mid-shard")
    assert [p.name for p in tmp_path.iterdir()] == ["shard-00000.tar"]  # the finished one only, no temp file


@pytest.mark.parametrize("key", ["a.b", "a/b", "", "x" * 65])
def test_bad_keys_are_refused(tmp_path, key):
    with ShardWriter(tmp_path, 4) as w, pytest.raises(ShardError, match="key"):
        w.write(key, {"json": b"{}"})


def test_a_key_written_twice_is_refused(tmp_path):
    with ShardWriter(tmp_path, 4) as w:
        w.write("a", {"json": b"{}"})
        with pytest.raises(ShardError, match="twice"):
            w.write("a", {"json": b"{}"})


def test_broken_shards_name_themselves(tmp_path):
    bad = tmp_path / "shard-00000.tar"
    bad.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(ShardError, match="shard-00000.tar"):
        list(iter_samples(bad))
    split = tmp_path / "split.tar"  # a sample's files not consecutive
    with tarfile.open(split, "w") as tar:
        for name in ("a.line.png", "b.line.png", "a.color.png"):
            tar.addfile(tarfile.TarInfo(name))
    with pytest.raises(ShardError, match="consecutive"):
        list_keys(split)
