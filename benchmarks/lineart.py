"""Line art, in one run: every method and a parameter sweep scored against the true lines, and the stage's
images per second against plain decode + resize of the same files.

    .venv/bin/python benchmarks/lineart.py [--posts 300] [--holdout 300] [--speed-posts 400] [--workers 1]

(a) the sweep: the first ``--posts`` readable colour illustrations of sample corpus 0 are brought to the
    training resolution once (params.yaml ``lineart.resize``, as the stage does) together with their true
    line layer (``pipeline.lineart.truth``: area-resampled, covered >= 100/255, 1-pixel tolerance); every
    method is scored over a small grid of its settings and both greys, pooled P/R/F1. The peers' published
    settings are rows of their own. The best setting of each method is then scored on ``--holdout`` posts of
    corpus 1, which the sweep never saw; and the default variant under other coverage rules for the truth.
(b) speed: the stage's ``lineart()`` from scratch (decode, scale, pad, every variant, PNG encode, atomic
    writes, shards) against plain decode + resize of the same files (Pillow full decode, EXIF turn, RGB,
    OpenCV area resize to the same size) and against the stage's own decode + resize (JPEG draft), with
    ``--workers`` processes each, ``--repeats`` alternating runs, medians.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import load_section  # noqa: E402
from pipeline.lineart import LineartConfig, load_scaled  # noqa: E402
from pipeline.lineart.config import Adaptive, Dilate, XDoG  # noqa: E402
from pipeline.lineart.methods import adaptive, dilate, extract, grey, xdog  # noqa: E402
from pipeline.lineart.resize import Unreadable, geometry, place  # noqa: E402
from pipeline.lineart.truth import counts, prf  # noqa: E402
from pipeline.samplebooru.corpus import Corpus  # noqa: E402
from pipeline.samplebooru.encoding import resize_mask  # noqa: E402

PEERS = [  # (label, method, channel, settings): the peers' published choices
    ("peer: DeepColor adaptive threshold", "adaptive", "luma", Adaptive(block=9, c=2)),
    ("peer: Tag2Pix/AlacGAN XDoG, sigma 0.3", "xdog", "luma", XDoG(0.3, 4.5, 0.95, -0.1, 1e9)),
    ("peer: Tag2Pix/AlacGAN XDoG, sigma 0.45", "xdog", "luma", XDoG(0.45, 4.5, 0.95, -0.1, 1e9)),
    ("peer: XDoG-Filter defaults", "xdog", "luma", XDoG(0.8, 1.6, 0.98, -0.1, 200.0)),
]
FUNCTIONS = {"xdog": xdog, "dilate": dilate, "adaptive": adaptive}


def grid() -> list[tuple[str, object]]:
    """Each method's small grid (run on the ``value`` grey; each method's best is then run on ``luma`` too)."""
    return ([("dilate", Dilate(k, t, f)) for k, t, f in itertools.product((3, 5), (0.3, 0.35, 0.4, 0.45, 0.5),
                                                                           (0.15, 0.3))]
            + [("xdog", XDoG(s, k, g, e, 1e9)) for s, k, g, e in itertools.product(
                (0.3, 0.5, 0.7), (1.3, 1.6, 2.0, 4.5), (0.8, 0.85, 0.9, 0.95), (0.0, -0.005, -0.01, -0.02, -0.05))]
            + [("adaptive", Adaptive(b, c)) for b, c in itertools.product((5, 9, 15), (2, 10, 20, 30, 40))])


def colour_posts(corpus: Corpus, n: int) -> list[int]:
    from tests.lineart_data import readable_colour

    return [p.id for p in corpus.posts if readable_colour(corpus, p.id) and corpus.line_mask(p.id) is not None][:n]


def load_set(corpus: Corpus, ids: list[int], cfg: LineartConfig, levels=(100,)) -> list[tuple]:
    """(scaled RGB, geometry, {coverage level: true lines at the output}) of each post that decodes."""
    out = []
    for i in ids:
        try:
            rgb, g = load_scaled(corpus.file_path(i), cfg.resize, cfg.max_pixels)
        except Unreadable:
            continue
        mask = corpus.line_mask(i)
        out.append((rgb, g, {lv: place(resize_mask(mask, (g.scaled_w, g.scaled_h), lv), g, False) for lv in levels}))
    return out


def score(data: list[tuple], method: str, channel: str, settings, level: int = 100) -> tuple[float, float, float]:
    total = np.zeros(4)
    for rgb, g, truth in data:
        lines = place(FUNCTIONS[method](grey(rgb, channel), settings), g, 255)
        total += counts(lines, truth[level])
    return prf(*total)


def describe(settings) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in vars(settings).items())


def sweep(cfg: LineartConfig, n: int, holdout: int) -> None:
    corpus0 = Corpus(n * 3 // 2 + 50, seed=0)
    data = load_set(corpus0, colour_posts(corpus0, n), cfg)
    t = time.perf_counter()
    rows = [(label, m, ch, s, *score(data, m, ch, s)) for label, m, ch, s in PEERS]
    rows += [("", m, "value", s, *score(data, m, "value", s)) for m, s in grid()]
    for m in FUNCTIONS:  # the other grey, at each method's best
        s = max((x for x in rows if x[1] == m and x[2] == "value"), key=lambda x: x[6])[3]
        rows.append(("the luma grey at the best value setting", m, "luma", s, *score(data, m, "luma", s)))
    print(f"(a) sweep: {len(rows)} settings on {len(data)} colour posts of corpus 0 at long side "
          f"{cfg.resize.long_side} ({time.perf_counter() - t:.0f} s); pooled, 1-pixel tolerance\n")
    print("| method | grey | settings | precision | recall | F1 | |\n| --- | --- | --- | --- | --- | --- | --- |")
    best, shown = {}, {}
    chosen = {(v.method, cfg.channel, getattr(cfg.methods, v.method)) for v in cfg.variants}
    for label, m, ch, s, p, r, f in sorted(rows, key=lambda x: -x[6]):
        best.setdefault(m, (ch, s, f))
        shown[m] = shown.get(m, 0) + 1
        if (m, ch, s) in chosen:
            label = (label + "; " if label else "") + "params.yaml"
        if label or shown[m] <= 5:
            print(f"| {m} | {ch} | {describe(s)} | {p:.3f} | {r:.3f} | {f:.3f} | {label} |")
    corpus1 = Corpus(holdout * 3 // 2 + 50, seed=1)
    held = load_set(corpus1, colour_posts(corpus1, holdout), cfg, levels=(64, 100, 128))
    print(f"\nheld out: each method's best setting on {len(held)} colour posts of corpus 1\n")
    print("| method | grey | settings | F1 corpus 0 | precision | recall | F1 corpus 1 |\n| --- | --- | --- | --- | --- | --- | --- |")
    for m, (ch, s, f) in best.items():
        p, r, f1 = score(held, m, ch, s)
        print(f"| {m} | {ch} | {describe(s)} | {f:.3f} | {p:.3f} | {r:.3f} | {f1:.3f} |")
    print(f"\nparams.yaml's variants on corpus 1 (default: {cfg.default}), under other truth rules too\n")
    levels = ((100, 1), (100, 0), (64, 1), (128, 1))
    print("| variant | " + " | ".join(f"F1 covered >= {lv}/255, {tol} px" for lv, tol in levels) + " |\n"
          + "| --- " * (len(levels) + 1) + "|")
    for v in cfg.variants:
        f1s = []
        for lv, tol in levels:
            total = np.zeros(4)
            for rgb, g, truth in held:
                lines = place(extract(rgb, [v], cfg.methods, cfg.channel)[0], g, 255)
                total += counts(lines, truth[lv], tol)
            f1s.append(prf(*total)[2])
        print(f"| {v.name} ({v.method}, thicken {v.thicken}) | " + " | ".join(f"{f:.3f}" for f in f1s) + " |")


def plain_decode_resize(item: tuple[str, str, object]) -> int:
    """The bound: Pillow's full decode, EXIF turn, RGB, OpenCV area resize to the stage's scaled size."""
    from PIL import Image, ImageOps

    path, _, resize = item
    try:
        with Image.open(path) as img:
            rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0
    g = geometry(rgb.shape[1], rgb.shape[0], resize)
    return int(cv2.resize(rgb, (g.scaled_w, g.scaled_h), interpolation=cv2.INTER_AREA).size)


def own_decode_resize(item: tuple[str, str, object]) -> int:
    """The stage's own decode + resize (JPEG draft when params say so), nothing else."""
    path, _, resize = item
    try:
        return int(load_scaled(path, resize, 10**8)[0].size)
    except Unreadable:
        return 0


def timed_map(fn, items, workers: int) -> float:
    t = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(fn, items, chunksize=8))
    else:
        list(map(fn, items))
    return time.perf_counter() - t


def speed(cfg: LineartConfig, n_posts: int, workers: int, repeats: int) -> None:
    from pipeline.lineart import lineart
    from tests.lineart_data import write_inputs

    corpus = Corpus(n_posts, seed=0)
    with tempfile.TemporaryDirectory(prefix="lineart-bench-") as tmp:
        work = Path(tmp)
        decisions = write_inputs(corpus, work / "raw", work / "filter")
        kept = decisions[decisions["keep"]].drop_duplicates("md5")
        items = [(str(work / "raw" / p), m, cfg.resize) for p, m in zip(kept["path"], kept["md5"], strict=True)]
        runs = {"stage": [], "plain": [], "own": []}
        for k in range(repeats):  # alternating, so that a slow spell of a shared machine hits all three
            t = time.perf_counter()
            lineart(decisions, work / "raw", work / f"out{k}", work / f"shards{k}", cfg, workers=workers,
                    progress=False)
            runs["stage"].append(time.perf_counter() - t)
            runs["plain"].append(timed_map(plain_decode_resize, items, workers))
            runs["own"].append(timed_map(own_decode_resize, items, workers))
    med = {k: float(np.median(v)) for k, v in runs.items()}
    n = len(items)
    print(f"\n(b) speed: {n} kept files (first {n_posts} posts of corpus 0), {workers} worker(s), median of "
          f"{repeats} alternating runs\n")
    print("| what | s | img/s | stage time / this |\n| --- | --- | --- | --- |")
    for key, label in (("stage", "the stage: lineart() from scratch, " + f"{len(cfg.variants)} variants written"),
                       ("plain", "plain decode + resize (full decode, area resize)"),
                       ("own", "the stage's own decode + resize" + (" (JPEG draft)" if cfg.resize.draft else ""))):
        print(f"| {label} | {med[key]:.2f} | {n / med[key]:.1f} | {med['stage'] / med[key]:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=300, help="(a): colour posts of corpus 0 swept")
    ap.add_argument("--holdout", type=int, default=300, help="(a): colour posts of corpus 1 for the check")
    ap.add_argument("--speed-posts", type=int, default=400, help="(b): the first posts of corpus 0")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full-decode", action="store_true", help="the stage without JPEG draft")
    ap.add_argument("--long-side", type=int, default=None, help="another training resolution than params.yaml's")
    a = ap.parse_args()
    cfg = load_section(REPO / "params.yaml", "lineart", LineartConfig)
    cfg = replace(cfg, resize=replace(cfg.resize, draft=cfg.resize.draft and not a.full_decode,
                                      long_side=a.long_side or cfg.resize.long_side))
    if a.posts:
        sweep(cfg, a.posts, a.holdout)
    if a.speed_posts:
        speed(cfg, a.speed_posts, a.workers, a.repeats)


if __name__ == "__main__":
    main()
