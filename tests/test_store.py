"""Atomic writes and the content-addressed layout."""

from __future__ import annotations

import os
import stat

import pytest

from pipeline.store import TMP_PREFIX, atomic_path, atomic_write_bytes, clean_temp_files, image_relpath


def test_atomic_write_gives_the_mode_a_plain_open_would(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    assert stat.S_IMODE(os.stat(tmp_path / "a.bin").st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


def test_a_failed_write_leaves_neither_temp_file_nor_destination(tmp_path):
    dest = tmp_path / "sub" / "out.parquet"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert not dest.exists()
    assert list((tmp_path / "sub").iterdir()) == []


def test_a_failed_rewrite_keeps_the_old_file(tmp_path):
    dest = tmp_path / "out.txt"
    atomic_write_bytes(dest, b"old")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"new but incomplete")
        raise RuntimeError
    assert dest.read_bytes() == b"old"


def test_clean_temp_files_removes_only_leftovers(tmp_path):
    (tmp_path / "images" / "ab").mkdir(parents=True)
    (tmp_path / "images" / "ab" / f"{TMP_PREFIX}123.jpg").write_bytes(b"torn")
    (tmp_path / "images" / "ab" / "keep.jpg").write_bytes(b"ok")
    assert clean_temp_files(tmp_path) == 1
    assert [p.name for p in (tmp_path / "images" / "ab").iterdir()] == ["keep.jpg"]


def test_image_relpath_is_content_addressed_and_refuses_names_from_outside():
    md5 = "0123456789abcdef0123456789abcdef"
    assert image_relpath(md5.upper(), ".JPG") == f"images/01/{md5}.jpg"
    for bad_md5 in ("../../etc/passwd", "0123", "g" * 32):
        with pytest.raises(ValueError):
            image_relpath(bad_md5, "jpg")
    for bad_ext in ("jpg/../x", "", "a" * 9):
        with pytest.raises(ValueError):
            image_relpath(md5, bad_ext)
