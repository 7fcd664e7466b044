"""``python -m pipeline.samplebooru --port PORT [--posts N] [--seed S] [--faults PROFILE] ...``

Renders (or loads) the corpus, serves it on 127.0.0.1 until SIGINT/SIGTERM, then exits 0. When ready it
prints exactly one line, ``serving http://127.0.0.1:PORT``, to stdout (flushed): a parent process reads
it to learn the port (``--port 0`` picks a free one). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys

from pipeline.samplebooru.faults import PROFILES
from pipeline.serving import serve_until_signalled


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.samplebooru", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--posts", type=int, default=1000, help="corpus size (default 1000)")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed, also seeds the faults (default 0)")
    ap.add_argument("--faults", choices=PROFILES, default="none", help="fault profile (default none)")
    ap.add_argument("--fault-seed", type=int, default=None, help="seed of the faults (default: --seed)")
    ap.add_argument("--rate", type=float, default=20.0, help="req/s of the ratelimit token bucket")
    ap.add_argument("--depth-cap", type=int, default=200_000, help="deepest pid*limit answered")
    ap.add_argument("--cache-dir", default=None, help="corpus cache (default ~/.cache/linecolor/samplebooru)")
    ap.add_argument("--log", default=None, help="append one JSON line per request to this file")
    ap.add_argument("--latency", type=float, default=0.0,
                    help="seconds each answer waits, to emulate a real site's round trip (default 0)")
    args = ap.parse_args(argv)

    from pipeline.samplebooru.corpus import Corpus
    from pipeline.samplebooru.server import SampleBooru

    corpus = Corpus(args.posts, seed=args.seed, cache_dir=args.cache_dir, progress=True)
    booru = SampleBooru(corpus, faults=args.faults, seed=args.seed if args.fault_seed is None else args.fault_seed,
                        depth_cap=args.depth_cap, rate=args.rate, log=args.log,
                        latency=args.latency).start(args.port)
    return serve_until_signalled(booru)  # signal handlers go in after rendering: render workers must not inherit them


if __name__ == "__main__":
    sys.exit(main())
