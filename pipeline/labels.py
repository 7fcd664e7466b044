"""Human verdicts: ``review/labels.csv``, one line per verdict, appended and never rewritten.

Columns: ``post_id, md5, target, value, time, source``.

- ``target`` is what the verdict is about: a classifier head or a filter reason (``TARGETS``).
- ``value`` says whether it applies to the picture: ``1`` (yes: the character *is* too small) or ``0``.
  A review click "this rejection is wrong" on a ``small`` rejection is ``small,0``.
- ``time`` is ISO-8601 UTC; ``source`` says who gave it (``review-server``, ``simulated-reviewer``, a name).

The file is git-tracked and grows by appends only (a lock and one ``write`` per line, so concurrent clicks
give whole lines). Reading never crashes on a bad line: it is reported with its line number and skipped.
When several verdicts name the same (md5, target), the last one wins.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

COLUMNS = ("post_id", "md5", "target", "value", "time", "source")
TARGETS = ("small", "clutter", "greyscale", "monochrome", "lineart", "comic")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
T = TypeVar("T")


@dataclass(frozen=True)
class Label:
    post_id: int
    md5: str
    target: str
    value: int  # 1: the target applies to the picture; 0: it does not
    time: str
    source: str


@dataclass(frozen=True)
class BadLine:
    line: int  # 1-based line number in the file
    text: str
    why: str


def tell_skipped(stage: str, path: Path | str, bad: list[BadLine]) -> int:
    """Each line a reader skipped, on stderr as ``<stage>: <path>:<line>: skipped (<why>)``; how many."""
    for b in bad:
        print(f"{stage}: {path}:{b.line}: skipped ({b.why})", file=sys.stderr)
    return len(bad)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def make_label(post_id: int, md5: str, target: str, value: int, source: str, time: str | None = None) -> Label:
    """A checked label; ``ValueError`` names what is wrong (the review server answers 400 with it)."""
    check_md5(md5)
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if value not in (0, 1) or isinstance(value, bool):
        raise ValueError(f"value must be 0 or 1, not {value!r}")
    return Label(int(post_id), md5, target, value, check_time(time), check_source(source))


def check_md5(md5: object, name: str = "md5") -> str:
    if not isinstance(md5, str) or not _MD5.fullmatch(md5):  # fullmatch: "$" would let a newline in
        raise ValueError(f"{name} must be 32 lower-case hex digits, not {md5!r}")
    return md5


def check_source(source: object) -> str:
    if not re.fullmatch(r"[\w.@+-]{1,64}", str(source)):
        raise ValueError(f"source must be 1-64 word characters, not {source!r}")
    return str(source)


def check_time(time: str | None) -> str:
    """``time`` if it is ISO-8601, or now (UTC) when it is ``None``."""
    time = time or utc_now()
    try:
        datetime.fromisoformat(time.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValueError(f"time must be ISO-8601, not {time!r}") from None
    return time


def append_label(path: Path | str, label: Label) -> None:
    """Append one verdict to ``path`` (see ``append_row``)."""
    append_row(path, COLUMNS, [label.post_id, label.md5, label.target, label.value, label.time, label.source])


def append_row(path: Path | str, columns: tuple[str, ...], row: list[object]) -> None:
    """Append one CSV line (with the header if the file is new), under an exclusive lock, flushed and fsynced.

    The one writer of every verdict file (``review/labels.csv``, ``review/dedup_labels.csv``): one ``write``
    per line under ``flock``, so concurrent writers (threads or processes) give whole lines.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    with open(path, "a+", encoding="utf-8", newline="") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                f.write(",".join(columns) + "\n")
            else:  # a torn last line (a killed writer) must not swallow this one
                f.seek(f.tell() - 1)
                if f.read(1) != "\n":
                    f.write("\n")
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_labels(path: Path | str) -> tuple[list[Label], list[BadLine]]:
    """Every well-formed verdict in file order, and the lines that were not (a missing file: none)."""
    def parse(fields: list[str]) -> Label:
        post_id, md5, target, value, time, source = fields
        return make_label(int(post_id), md5, target, int(value), source, time)
    return read_rows(path, COLUMNS, parse)


def read_rows(path: Path | str, columns: tuple[str, ...], parse: Callable[[list[str]], T]
              ) -> tuple[list[T], list[BadLine]]:
    """``parse`` of every line of a verdict file after its header, and the lines it refused (``ValueError``)."""
    path = Path(path)
    if not path.exists():
        return [], []
    rows, bad = [], []
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for n, line in enumerate(f, start=1):
            text = line.rstrip("\r\n")
            if n == 1 and text == ",".join(columns):
                continue
            if not text.strip():
                continue
            try:
                fields = next(csv.reader([text]))
                if len(fields) != len(columns):
                    raise ValueError(f"expected {len(columns)} fields, got {len(fields)}")
                rows.append(parse(fields))
            except ValueError as exc:
                bad.append(BadLine(n, text[:200], str(exc)))
    return rows, bad


def latest(labels: list[Label]) -> dict[tuple[str, str], Label]:
    """The verdict in force for each (md5, target): the last one given."""
    return {(lab.md5, lab.target): lab for lab in labels}
