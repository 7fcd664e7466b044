"""The filter's next step, measured before it is built: a figure segmenter learnt from tags alone.

    .venv/bin/python -m benchmarks.filter_review --posts 4000 --rounds 0 --work DIR   # raw store + dedup
    .venv/bin/python -m benchmarks.filter_segment --work DIR [--steps 600] [--width 16] [--size 128]

Why (README "Filter"): the simulated reviewer reaches 0.95 / 0.95 only with a score that ranks the figure's
area and the background's line density *within* a tag, and the classifier's 64 px thumbnail does not. Both
truths are measures of a figure mask (``char_area`` is its share; clutter is the line density outside it), so
this learns one without any truth: the colour pictures tagged ``white_background`` (not ``portrait``, not
``comic``) give cut-out figures (what differs from the paper, holes filled), the ones tagged ``wide_shot`` with
a simple or detailed background give scenery (their own small figures are label noise), plain paper the rest;
a small U-Net learns the figure's pixels on composites of the two (the copy-paste recipe of anime-segmentation
datasets). Every decodable representative is then scored: the predicted figure share (``small``) and the share
of thin dark strokes (7 x 7 black-hat above 50 at 512 px) outside the dilated figure (``clutter``).

Prints each score's Spearman with the truth (overall and within ``wide_shot`` / detailed backgrounds) and the
simulated reviewer's rule replayed on it (``benchmarks.filter_scores.replay``, ``--per-round`` pictures per
head: the benchmark's 50 a round are shared by the two heads), then one JSON line. Truth measures only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.filter_scores import print_header, score_row  # noqa: E402
from pipeline.config import load_keys, load_truth_source  # noqa: E402
from pipeline.filter.classifier import training_set  # noqa: E402
from pipeline.filter.config import ClassifierConfig, FilterConfig  # noqa: E402
from pipeline.filter.decode import fit_size, load_rgb  # noqa: E402
from pipeline.filter.encode import encode_representatives, thumbs_of  # noqa: E402
from pipeline.filter.truth import truth_table  # noqa: E402
from pipeline.manifest import DEDUP, RAW_POSTS, read_manifest  # noqa: E402
from pipeline.samplebooru.corpus import Corpus  # noqa: E402


class UNet(nn.Module):
    """Three poolings, two 3x3 convolutions a level: (N, 3, S, S) in [0, 1] -> figure logits (N, S, S)."""

    def __init__(self, w: int):
        super().__init__()

        def block(i: int, o: int) -> nn.Module:
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True),
                                 nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True))
        self.down = nn.ModuleList([block(3, w), block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 4 * w)])
        self.up = nn.ModuleList([block(8 * w, 2 * w), block(4 * w, w), block(2 * w, w)])
        self.out = nn.Conv2d(w, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, h = [], x * 2 - 1
        for k, blk in enumerate(self.down):
            h = blk(h if k == 0 else nn.functional.max_pool2d(h, 2))
            skips.append(h)
        for blk, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            h = blk(torch.cat([nn.functional.interpolate(h, scale_factor=2.0), skip], 1))
        return self.out(h)[:, 0]


def picture_box(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """y, x, h, w of the picture inside its thumbnail (``pipeline.filter.decode.thumbnail`` centres it)."""
    w, h = fit_size((width, height), size)
    return (size - h) // 2, (size - w) // 2, h, w


def cut_out(thumb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A white-background picture's figure: pixels off the paper plus what the paper cannot reach."""
    off = (np.abs(thumb.astype(np.int16) - 255).max(axis=2) > 24).astype(np.uint8)
    paper = np.pad(1 - off, 1, constant_values=1)
    cv2.floodFill(paper, None, (0, 0), 2)
    mask = (off == 1) | (paper[1:-1, 1:-1] == 1)
    ys, xs = np.nonzero(mask)
    if len(ys) < 20:
        return None
    box = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return thumb[box], mask[box].astype(np.float32)


def composite(rng: np.random.Generator, figures: list, scenes: list, size: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """One training pair: scenery (or paper) with one or two figures pasted, each 0.2% to 50% of it."""
    scene = scenes[rng.integers(len(scenes))]
    canvas = np.full((size, size, 3), 255, np.uint8) if rng.random() < 0.3 else \
        cv2.resize(scene[:, ::-1] if rng.random() < 0.5 else scene, (size, size), interpolation=cv2.INTER_AREA)
    label = np.zeros((size, size), np.float32)
    for _ in range(1 + int(rng.random() < 0.3)):
        fig, mask = figures[rng.integers(len(figures))]
        area = float(np.exp(rng.uniform(np.log(0.002), np.log(0.5))))
        scale = min(np.sqrt(area * size * size / mask.sum()), size / max(fig.shape[:2]))
        h, w = max(1, round(fig.shape[0] * scale)), max(1, round(fig.shape[1] * scale))
        f = cv2.resize(fig, (w, h), interpolation=cv2.INTER_AREA)
        a = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            f, a = f[:, ::-1], a[:, ::-1]
        y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
        part = canvas[y:y + h, x:x + w]
        canvas[y:y + h, x:x + w] = (part * (1 - a[..., None]) + f * a[..., None]).astype(np.uint8)
        label[y:y + h, x:x + w] = np.maximum(label[y:y + h, x:x + w], a)
    return canvas, label


def train(figures: list, scenes: list, size: int, steps: int, width: int, seed: int = 0) -> UNet:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = UNet(width)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    t0 = time.time()
    for step in range(steps):
        xs, ys = zip(*[composite(rng, figures, scenes, size) for _ in range(16)], strict=True)
        x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float() / 255
        loss = nn.functional.binary_cross_entropy_with_logits(net(x), torch.from_numpy(np.stack(ys)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"segmenter: step {step + 1}/{steps}, loss {float(loss.detach()):.4f}, "
                  f"{time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return net.eval()


def decoded(raw: str, path: str, max_pixels: int) -> np.ndarray | None:
    """The file's pixels as the filter decodes them (long side 512-1023), or None when unreadable."""
    try:
        return load_rgb(Path(raw) / path, long_side=512, max_pixels=max_pixels)[0]
    except Exception:  # noqa: BLE001 - an unreadable file scores nothing here
        return None


def background_lines(item: tuple[str, np.ndarray], raw: str, max_pixels: int) -> float:
    """Thin dark strokes (7x7 black-hat > 50 at 512 px) per pixel outside the dilated figure mask."""
    path, figure = item
    if (rgb := decoded(raw, path, max_pixels)) is None:
        return float("nan")
    h, w = rgb.shape[:2]
    if max(h, w) > 512:
        h, w = round(h * 512 / max(h, w)), round(w * 512 / max(h, w))
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    strokes = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, kernel) > 50
    fig = cv2.dilate((cv2.resize(figure, (w, h)) > 0.5).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    return float((strokes & ~fig).sum() / max(1, (~fig).sum()))


def pools(data, thumbs: np.ndarray, colour: np.ndarray, boxes: list) -> tuple[list, list]:
    """Cut-out figures (``white_background``, not ``portrait`` or ``comic``) and scenes (``wide_shot`` on a
    simple or detailed background), from the colour pictures' tags alone."""
    tags = [set(str(t).split()) for t in data["tags"]]
    figures, scenes = [], []
    for i in np.flatnonzero(colour):
        if "white_background" in tags[i] and not tags[i] & {"portrait", "comic"}:
            if (cut := cut_out(thumbs[i])) is not None:
                figures.append(cut)
        if "wide_shot" in tags[i] and tags[i] & {"simple_background", "detailed_background"}:
            y, x, h, w = boxes[i]
            scenes.append(thumbs[i][y:y + h, x:x + w])
    return figures, scenes


@torch.no_grad()
def figure_maps(net: UNet, thumbs: np.ndarray, boxes: list) -> list[np.ndarray]:
    """Each picture's figure probabilities, inside its box of the thumbnail."""
    probs = []
    for i in range(0, len(thumbs), 256):
        x = torch.from_numpy(thumbs[i:i + 256]).permute(0, 3, 1, 2).float() / 255
        probs.append(torch.sigmoid(net(x)).numpy())
    prob = np.concatenate(probs)
    return [prob[i, y:y + h, x:x + w] for i, (y, x, h, w) in enumerate(boxes)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="a filter_review --work folder (raw/, dedup/)")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--per-round", type=int, default=25)
    a = ap.parse_args()
    params = a.work / "params.yaml"
    cfg, fcfg = load_keys(params, "filter", ClassifierConfig), load_keys(params, "filter", FilterConfig)
    torch.set_num_threads(cfg.train.threads)
    images = read_manifest(DEDUP.path(a.work / "dedup"), DEDUP)
    posts = read_manifest(RAW_POSTS.path(a.work / "raw"), RAW_POSTS)
    pixels = encode_representatives(images, a.work / "raw", a.work / f"cache{a.size}",
                                     replace(cfg.encode, thumb=a.size), cfg.train.threads)
    data = training_set(images, posts, pixels).merge(pixels[["md5", "path", "width", "height"]], on="md5")
    thumbs = thumbs_of(data, a.size)
    colour = (data["colour"] > fcfg.rules.colour_max).to_numpy()
    boxes = [picture_box(w, h, a.size) for w, h in zip(data["width"], data["height"], strict=True)]
    figures, scenes = pools(data, thumbs, colour, boxes)
    print(f"{len(data)} pictures; {len(figures)} cut-out figures, {len(scenes)} scenes", file=sys.stderr)
    figs = figure_maps(train(figures, scenes, a.size, a.steps, a.width), thumbs, boxes)
    with Pool(cfg.train.threads) as pool:
        lines = pool.map(partial(background_lines, raw=str(a.work / "raw"), max_pixels=cfg.encode.max_pixels),
                         list(zip(data["path"], figs, strict=True)), chunksize=32)
    share = np.array([f.mean() for f in figs])
    return report(data["id"], share, np.nan_to_num(np.array(lines)), params, fcfg, a.per_round)


def report(ids, share: np.ndarray, lines: np.ndarray, params: Path, fcfg: FilterConfig, per_round: int) -> int:
    """Each score against the truth: Spearman overall and within the tag holding the boundary, the spread
    of the figure share's log error, then the reviewer's rule replayed."""
    source = load_truth_source(params)
    corpus = Corpus(source.posts, seed=source.seed)
    truth = truth_table(ids, corpus.truth, fcfg.truth)
    known = [corpus.truth(int(i)) for i in ids]
    area, clutter = np.array([t.char_area for t in known]), np.array([t.clutter for t in known])
    wide, detailed = (np.array([t.framing == "wide_shot" for t in known]),
                      np.array([t.background == "detailed" for t in known]))
    rows = {"small": ("figure share", -np.log(share + 1e-4), -area, wide),
            "clutter": ("background stroke density", lines, clutter, detailed)}
    under = (area > 0) & (area < 0.05)
    out = {"pictures": len(ids), "figure_share_log_error_sd": round(float(np.std(
        np.log(share[under] + 1e-4) - np.log(area[under]))), 3)}
    print(f"figure share against char_area (figures under 5%): log error spread {out['figure_share_log_error_sd']}")
    print_header(4, per_round)
    for head, (name, score, key, tag) in rows.items():
        out[head] = {"score": name, **score_row(head, name, score, key, tag, truth[head], 4, per_round)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
