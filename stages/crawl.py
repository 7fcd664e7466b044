"""Stage `crawl`: Safebooru (or the embedded sample booru) -> data/raw (images/ + the RAW_POSTS manifest).

    python -m stages.crawl --raw data/raw --metrics metrics/crawl.json [--params params.yaml]

Reads the `crawl:` and `samplebooru:` sections of params.yaml (``pipeline.config``); resumes an
interrupted run and otherwise lists only posts newer than the last finished run.
"""

from __future__ import annotations

import argparse
import sys

from pipeline.config import cli, load_section, write_metrics
from pipeline.crawl import SAMPLE_SOURCE, CrawlConfig, SampleBooruConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stages.crawl", description=__doc__.splitlines()[0])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--raw", required=True, help="output folder (images/, posts.parquet, .crawl/journal)")
    ap.add_argument("--metrics", required=True, help="metrics JSON to write")
    ap.add_argument("--progress", type=float, default=5.0, help="seconds between progress lines (0: none)")
    args = ap.parse_args(argv)
    cfg = load_section(args.params, "crawl", CrawlConfig)
    sample = load_section(args.params, "samplebooru", SampleBooruConfig)

    from spiders.runner import run_crawl, source_url  # Scrapy imports are slow: after argument errors

    with source_url(cfg, sample) as base:
        s = run_crawl(cfg, base, args.raw, cfg.source == SAMPLE_SOURCE, args.progress)
    write_metrics(args.metrics, s)
    if s["error"]:
        print(f"crawl: error: {s['error']}", file=sys.stderr)
        return 2
    r = s["this_run"]
    print(f"crawl: run {s['run']}{' (resumed)' if s['resumed'] else ''}: {r['posts_listed']} new posts, "
          f"{r['files_fetched']} files fetched ({r['bytes_fetched'] / 2**20:.1f} MiB) in {r['elapsed_s']:.1f}s; "
          f"store: {s['posts']} posts, {s['ok']} ok, {s['failed']} failed, {s['rejected']} rejected")
    if not s["complete"]:
        print(f"crawl: incomplete ({', '.join(s['incomplete_queries'])}): run it again to resume", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli(main))
