"""DVC stage `summary`: the funnel (every crawled post kept or dropped, where and why) and reports/index.html.

    python -m stages.summary --raw data/raw --dedup data/dedup --filter data/filter --lineart data/lineart \
        --split data/split --reports reports --metrics metrics/funnel.json --stage-metrics metrics/*.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.config import cli, write_metrics
from pipeline.funnel import funnel, index_page, outcomes
from pipeline.manifest import DEDUP, FILTER, LINEART, RAW_POSTS, SPLIT, read_manifest
from pipeline.store import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.summary", description=__doc__.splitlines()[0])
    for name in ("raw", "dedup", "filter", "lineart", "split", "reports", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    ap.add_argument("--stage-metrics", nargs="*", type=Path, default=[], help="each stage's metrics JSON")
    a = ap.parse_args(argv)
    outcome = outcomes(*(read_manifest(m.path(d), m) for m, d in (
        (RAW_POSTS, a.raw), (DEDUP, a.dedup), (FILTER, a.filter), (LINEART, a.lineart), (SPLIT, a.split))))
    m = funnel(outcome)
    write_metrics(a.metrics, m)
    stage_metrics = {p.stem: json.loads(p.read_text()) for p in a.stage_metrics}
    atomic_write_text(a.reports / "index.html", index_page(m, a.reports, stage_metrics))
    drops = ", ".join(f"{s} {n}" for s, n in m["dropped_total"].items())
    print(f"summary: {m['crawled']} posts crawled -> kept {m['kept']} ({m['kept_total']}); dropped: {drops}; "
          f"every report: {a.reports / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
