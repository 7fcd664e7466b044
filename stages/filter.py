"""DVC stage `filter` (interim, until issue #10's classifier and rules land): dedup rows -> decisions.

    python -m stages.filter --dedup data/dedup --out data/filter --metrics metrics/filter.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.config import cli, write_metrics
from pipeline.filter_interim import decide
from pipeline.manifest import DEDUP, FILTER, read_manifest, write_manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.filter", description=__doc__.splitlines()[0])
    for name in ("dedup", "out", "metrics"):
        ap.add_argument(f"--{name}", required=True, type=Path)
    a = ap.parse_args(argv)
    decisions = decide(read_manifest(DEDUP.path(a.dedup), DEDUP))
    write_manifest(decisions, FILTER.path(a.out), FILTER)
    counts = {str(k): int(v) for k, v in decisions["decision"].value_counts().sort_index().items()}
    write_metrics(a.metrics, {"decisions": counts, "kept": int(decisions["keep"].sum()), "interim": True})
    print(f"filter (interim: nothing rejected yet): {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
