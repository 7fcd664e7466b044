"""review/labels.csv: appends only, whole lines under concurrency, bad lines reported by number and skipped."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from pipeline.labels import COLUMNS, append_label, latest, make_label, read_labels

MD5 = "0123456789abcdef0123456789abcdef"


def _click(args: tuple[str, int]) -> None:
    path, k = args
    append_label(path, make_label(k, MD5, "small", k % 2, "review-server"))


def test_sixteen_concurrent_appends_give_sixteen_whole_lines(tmp_path):
    path = tmp_path / "labels.csv"
    with mp.get_context("fork").Pool(8) as pool:
        pool.map(_click, [(str(path), k) for k in range(16)])
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 17
    labels, bad = read_labels(path)
    assert not bad and sorted(lab.post_id for lab in labels) == list(range(16))


def test_bad_lines_are_reported_with_their_number_and_skipped(tmp_path):
    path = tmp_path / "labels.csv"
    append_label(path, make_label(1, MD5, "clutter", 1, "alice", "2026-12-01T10:00:00Z"))
    with open(path, "a") as f:
        f.write("2,not-an-md5,small,1,2026-12-01T10:00:00Z,bob\n")
        f.write(f"3,{MD5},tiny,1,2026-12-01T10:00:00Z,bob\n")
        f.write(f"4,{MD5},small,yes,2026-12-01T10:00:00Z,bob\n")
        f.write(f"5,{MD5},small,1\n")
        f.write(f"6,{MD5},small,0,yesterday,bob\n")
        f.write(f"7,{MD5},clutter,0,2026-12-01T11:00:00Z,bob")  # torn: no newline
    append_label(path, make_label(8, MD5, "small", 0, "carol", "2026-12-01T12:00:00Z"))
    labels, bad = read_labels(path)
    assert [b.line for b in bad] == [3, 4, 5, 6, 7]
    assert "md5" in bad[0].why and "target" in bad[1].why and "fields" in bad[3].why and "ISO" in bad[4].why
    assert [lab.post_id for lab in labels] == [1, 7, 8]  # the torn line was completed, not glued to the next
    now = latest(labels)
    assert now[(MD5, "clutter")].value == 0 and now[(MD5, "small")].source == "carol"


@pytest.mark.parametrize(("kw", "why"), [
    ({"target": "bogus"}, "target"), ({"value": 2}, "value"), ({"value": True}, "value"),
    ({"md5": "../etc"}, "md5"), ({"source": "a b<script>"}, "source"),
])
def test_make_label_refuses_what_is_not_in_the_vocabulary(kw, why):
    args = {"post_id": 1, "md5": MD5, "target": "small", "value": 1, "source": "x"} | kw
    with pytest.raises(ValueError, match=why):
        make_label(**args)


def test_a_missing_file_has_no_labels(tmp_path):
    assert read_labels(tmp_path / "nope.csv") == ([], [])
