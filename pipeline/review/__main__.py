"""``python -m pipeline.review [--port N] [--labels review/labels.csv] [--dedup-labels review/dedup_labels.csv]``

Serves the reports (``--reports``, default ``reports``) and the image store (``--images``, default
``data/raw/images``) on 127.0.0.1 until SIGINT/SIGTERM, then exits 0. When ready it prints exactly one
line, ``serving http://127.0.0.1:PORT``, to stdout (flushed; ``--port 0`` picks a free port). Open it and
follow a report: each picture has verdict buttons, and each click is one line of the labels files, which
the next ``dvc repro`` reads (dedup: ``review/dedup_labels.csv``; classifier and filter: ``review/labels.csv``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.review.server import ReviewPaths, ReviewServer
from pipeline.serving import serve_until_signalled


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.review", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (default 8765; 0: a free one)")
    ap.add_argument("--labels", type=Path, default=Path("review/labels.csv"), help="filter verdicts (appended)")
    ap.add_argument("--dedup-labels", type=Path, default=Path("review/dedup_labels.csv"),
                    help="pair verdicts (appended)")
    ap.add_argument("--reports", type=Path, default=Path("reports"), help="the reports folder (served)")
    ap.add_argument("--images", type=Path, default=Path("data/raw/images"), help="the image store (served)")
    args = ap.parse_args(argv)
    paths = ReviewPaths(args.reports, args.images, args.labels, args.dedup_labels)
    try:
        server = ReviewServer(paths).start(args.port)
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return serve_until_signalled(server)


if __name__ == "__main__":
    sys.exit(main())
