"""What `make demo` prints at the end: the run in a dozen lines, from the metrics files alone.

    python -m pipeline.digest [--metrics metrics] [--reports reports]

Kept and dropped posts per stage and reason (``funnel.json``), split sizes and the leak check
(``split.json``), the colorizer against its baselines (``eval.json``), where the reports are and how to
colour a file. A metrics file that is not there (a stage not run yet) is skipped, not an error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EVAL_SHOWN = ("psnr", "ssim", "lab_hist", "colourfulness", "de_hair", "de_skin", "hair_close", "eyes_close")


def _load(folder: Path, name: str) -> dict | None:
    path = folder / name
    return json.loads(path.read_text()) if path.exists() else None


def digest(metrics: Path, reports: Path) -> list[str]:
    lines = []
    f = _load(metrics, "funnel.json")
    if f:
        lines.append(f"posts: {f['crawled']} crawled, {f['kept_total']} kept ("
                     + ", ".join(f"{k} {v}" for k, v in sorted(f["kept"].items())) + ")")
        for stage, reasons in f["dropped"].items():
            if reasons:
                top = sorted(reasons.items(), key=lambda kv: -kv[1])
                lines.append(f"  dropped at {stage}: {sum(reasons.values())} ("
                             + ", ".join(f"{k} {v}" for k, v in top[:6]) + (", ..." if len(top) > 6 else "") + ")")
    s = _load(metrics, "split.json")
    if s:
        leaks = {k: v for k, v in s["leaks"].items() if k.endswith("across_splits")}
        lines.append("split: " + ", ".join(f"{k} {v['pictures']}" for k, v in s["splits"].items())
                     + f" pictures in {s['shards']} shards; leaks {sum(leaks.values())}")
    e = _load(metrics, "eval.json")
    if e:
        models = e["models"]
        shown = [m for m in EVAL_SHOWN if any(m in v for v in models.values())]
        lines.append("colorizer on the test split: " + "  ".join(shown))
        for name, v in models.items():
            lines.append(f"  {name:8s} " + "  ".join(_fmt(v.get(m)) for m in shown))
        if "gan_beats_trivial_everywhere" in e:
            lines.append(f"  GAN beats the trivial baseline on every metric: {e['gan_beats_trivial_everywhere']}; "
                         f"L1 baseline better than the GAN on: {', '.join(e.get('l1_better_than_gan', [])) or 'none'}")
    lines.append(f"reports: {reports / 'index.html'} (open it in a browser; `python -m pipeline.review` to give "
                 "verdicts)")
    lines.append("colour your own line art: python -m pipeline.colorize my_sketch.png -o coloured/")
    return lines


def _fmt(v: object) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3f}"
    return "-" if v is None else str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline.digest", description=__doc__.splitlines()[0])
    ap.add_argument("--metrics", type=Path, default=Path("metrics"))
    ap.add_argument("--reports", type=Path, default=Path("reports"))
    a = ap.parse_args(argv)
    print("\n".join(digest(a.metrics, a.reports)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
