"""Human verdicts on pairs of pictures: ``review/dedup_labels.csv``, appended and never rewritten.

Columns: ``md5_a, md5_b, verdict, time, source``.

- ``md5_a < md5_b`` name two files of the raw store (a pair is stored in one order, so a verdict on
  (b, a) is a verdict on (a, b)).
- ``verdict`` is ``same`` (the same picture: a must-link) or ``different`` (not the same picture: a
  cannot-link). The dedup stage honours them on its next run (``pipeline.dedup.verdicts``).
- ``time`` is ISO-8601 UTC; ``source`` says who gave it (``review-server``, a name).

Written and read like ``review/labels.csv`` (``pipeline.labels.append_row`` / ``read_rows``): whole lines
under concurrency, a bad line reported with its number and skipped; the last verdict on a pair wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.labels import BadLine, append_row, check_md5, check_source, check_time, read_rows

COLUMNS = ("md5_a", "md5_b", "verdict", "time", "source")
VERDICTS = ("same", "different")


@dataclass(frozen=True)
class PairLabel:
    md5_a: str  # the smaller md5 of the pair
    md5_b: str
    verdict: str  # same | different
    time: str
    source: str


def make_pair_label(md5_a: str, md5_b: str, verdict: str, source: str, time: str | None = None) -> PairLabel:
    """A checked pair verdict, its md5s in order; ``ValueError`` names what is wrong."""
    a, b = check_md5(md5_a, "md5_a"), check_md5(md5_b, "md5_b")
    if a == b:
        raise ValueError("a pair names two different files (md5_a == md5_b)")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    a, b = min(a, b), max(a, b)
    return PairLabel(a, b, verdict, check_time(time), check_source(source))


def append_pair_label(path: Path | str, label: PairLabel) -> None:
    append_row(path, COLUMNS, [label.md5_a, label.md5_b, label.verdict, label.time, label.source])


def read_pair_labels(path: Path | str) -> tuple[list[PairLabel], list[BadLine]]:
    """Every well-formed pair verdict in file order, and the lines that were not (a missing file: none)."""
    def parse(fields: list[str]) -> PairLabel:
        md5_a, md5_b, verdict, time, source = fields
        return make_pair_label(md5_a, md5_b, verdict, source, time)
    return read_rows(path, COLUMNS, parse)


def pair_verdicts(labels: list[PairLabel]) -> dict[tuple[str, str], str]:
    """The verdict in force for each pair (md5_a, md5_b): the last one given."""
    return {(lab.md5_a, lab.md5_b): lab.verdict for lab in labels}
