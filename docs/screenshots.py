"""Screenshots of the reports, as a reviewer sees them: served by the review server, rendered by Chromium.

    python -m docs.screenshots [--reports reports] [--images data/raw/images]    (make screenshots)

writes ``docs/dedup_report.png``, ``docs/filter_report.png`` (the index: counts, histograms, kept pictures
near the thresholds) and ``docs/filter_rejects.png`` (the first page of the largest reason, with its
verdict buttons). A report that ``--reports`` does not hold yet (before ``make demo``) is taken from the
test suite's review tree instead (``tests/reviewing.py``: 48 sample posts, *synthetic* filter scores); the
script says which it used.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from pipeline.review.browser import launch
from pipeline.review.server import ReviewPaths, ReviewServer
from pipeline.store import atomic_path

DOCS = Path(__file__).resolve().parent
VIEW = {"width": 1280, "height": 1000}


def _tree(reports: Path, images: Path, scratch: Path) -> tuple[Path, Path, str]:
    """The reports folder to show and its image store: the given one if it has both reports, else the tests'."""
    if (reports / "dedup" / "index.html").exists() and (reports / "filter" / "index.html").exists():
        return reports, images, f"{reports}"
    from pipeline.samplebooru.corpus import Corpus
    from tests.reviewing import build_tree

    tree = build_tree(Corpus(400, seed=0), scratch)
    return tree.reports, tree.raw / "images", "the test suite's review tree (synthetic filter scores)"


def _shoot(page, url: str, out: Path) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    with atomic_path(out) as tmp:
        page.screenshot(path=str(tmp), full_page=False)
    print(f"screenshots: {out.relative_to(DOCS.parent)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m docs.screenshots", description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=Path, default=Path("reports"))
    ap.add_argument("--images", type=Path, default=Path("data/raw/images"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        reports, images, which = _tree(args.reports, args.images, Path(scratch))
        print(f"screenshots: reports from {which}")
        paths = ReviewPaths(reports, images, Path(scratch) / "labels.csv", Path(scratch) / "dedup_labels.csv")
        first_rejects = sorted((reports / "filter").glob("reject-01-*-001.html"))
        with ReviewServer(paths).start(0) as srv, sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport=VIEW)
            base = srv.url + "/" + reports.absolute().relative_to(paths.root).as_posix()
            _shoot(page, f"{base}/dedup/index.html", DOCS / "dedup_report.png")
            _shoot(page, f"{base}/filter/index.html", DOCS / "filter_report.png")
            if first_rejects:
                _shoot(page, f"{base}/filter/{first_rejects[0].name}", DOCS / "filter_rejects.png")
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
