"""The line figure network (``pipeline.filter.lines``): its grids on non-square maps, its two measures, and
a real training on drawn scenes whose figure the palette finds, read back through onnxruntime on grey
versions of new scenes."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.filter.config import LinesConfig, LinesNetConfig
from pipeline.filter.lines import LineFigure, grid_cover, grid_input, grid_target, measures
from pipeline.filter.lines_train import cached, export, train
from pipeline.filter.maps import _pack, fit, ink_map, maps, unpack
from pipeline.filter.palette import learn
from pipeline.filter.scoring import palette_rows
from tests.test_filter_palette import DRESS, HAIR, OTHER, PARAMS, figure, scene

CFG = LinesConfig(side=64, seed=0, steps=1000, batch_size=16, lr=3e-3, weight_decay=1e-4, threads=1,
                  net=LinesNetConfig(width=8))
LINE = (28, 22, 34)


@pytest.mark.parametrize("shape", [(100, 256), (256, 100)])
def test_grids_keep_the_aspect_of_non_square_maps(shape):
    ink = np.full(shape, 200, np.uint8)
    x, cover = grid_input(ink, 64), grid_cover(ink, 64)
    w, h = (64, 25) if shape[1] > shape[0] else (25, 64)
    assert x.shape == (64, 64) and x[:h, :w].min() == pytest.approx(200 / 255) and x[h:].sum() == x[:, w:].sum() == 0
    assert cover.shape == (16, 16) and cover.sum() == pytest.approx(w * h / 16, rel=0.01)
    mask = np.zeros(shape, np.uint8)
    mask[: shape[0] // 2] = 1  # the top half is figure
    assert grid_target(mask, 64).sum() == pytest.approx(cover.sum() / 2, rel=0.05)


def test_measures_read_the_figure_cells_and_the_ink_outside_them():
    ink = np.zeros((160, 256), np.uint8)
    ink[::8, :128] = 255  # the left half: one row of ink in 8
    grid = np.zeros((16, 16), np.float32)
    grid[2:8, 10:14] = 1.0  # a figure on the right, 24 of the picture's 16 x 10 cells
    share, background = measures(ink, grid, 64)
    assert share == pytest.approx(24 / 160, rel=0.02)
    # the figure's cells are 16 map pixels wide: rows 32-128, columns 160-224, and a pixel's margin
    assert background == pytest.approx(ink.sum() / 255 / (160 * 256 - 98 * 66), rel=0.03)
    ink[40:120, 160:224] = 255  # ink drawn in the figure's cells is the figure's
    assert measures(ink, grid, 64)[1] == pytest.approx(background, rel=0.1)


def _rows(pics: list[np.ndarray], tags: list[set[str]]) -> pd.DataFrame:
    rows = []
    for k, pic in enumerate(pics):
        fitted, sized = fit(pic, 256)
        colours, ink = maps(fitted, cv2.cvtColor(sized, cv2.COLOR_RGB2GRAY), 25.0)
        rows.append({"md5": f"{k:032x}", "status": "ok", "colour": 0.5, "panels": 0, "panel_cover": 0.0,
                     "palette": colours, "ink_map": ink, "tags": " ".join(sorted(tags[k]))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def learnt(tmp_path_factory):
    """A palette from cut-outs and wide shots, then the network trained on busy scenes with figures of
    every size (``cached``), and the pictures' rows."""
    pics, tags = [], []
    for k in range(12):
        pic = np.full((600, 400, 3), 255, np.uint8)
        figure(pic, 200, 300, 40 + 5 * k, (HAIR, DRESS) if k % 2 else OTHER)
        pics.append(pic)
        tags.append({"white_background", *(("alice", "red_hair") if k % 2 else ("bea", "blonde_hair"))})
    for k in range(48):
        pics.append(_drawn(12 + 4 * (k % 12), lines=40 * (k % 4), seed=k))
        tags.append({"wide_shot", "simple_background", "alice"})
    data = _rows(pics, tags)
    tag_sets = [set(t.split()) for t in data["tags"]]
    palette = learn([unpack(b) for b in data["palette"]], tag_sets, data["colour"].to_numpy(), PARAMS)
    measured, _ = palette_rows(data, dict(zip(data["md5"], tag_sets, strict=True)), palette, 1)
    cache, out = tmp_path_factory.mktemp("lines"), tmp_path_factory.mktemp("models") / "lines.onnx"
    n = cached(data, tag_sets, palette, measured, CFG, cache, out, progress=False)
    return data, tag_sets, palette, measured, cache, out, n


def _drawn(r: int, lines: int, seed: int) -> np.ndarray:
    """A scene (``test_filter_palette.scene``) whose figure is outlined, head and dress, as drawings are."""
    pic = scene(700, 500, r, lines=lines, seed=seed)
    cv2.ellipse(pic, (350, 250 + r), (r, 2 * r), 0, 0, 360, LINE, 2)
    cv2.circle(pic, (350, 250 - r), r, LINE, 2)
    return pic


def _grey_scene(r: int, lines: int, seed: int) -> np.ndarray:
    grey = cv2.cvtColor(_drawn(r, lines, seed), cv2.COLOR_RGB2GRAY)
    fitted, sized = fit(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), 256)
    return unpack(ink_map(cv2.cvtColor(sized, cv2.COLOR_RGB2GRAY), fitted.shape[1::-1], 25.0))


def test_the_network_finds_the_figure_of_grey_pictures_it_never_saw(learnt):
    *_, out, n = learnt
    assert n == 60  # every colour picture the palette measures
    lines = LineFigure(out)
    inks = [_grey_scene(r, 60, seed=100 + r) for r in (14, 28, 50)]  # 0.5% to 6% of the picture
    shares = [s for s, _ in lines.measure(inks, batch=2)]
    assert shares == sorted(shares) and shares[2] > 3 * shares[0], shares
    bare, busy = lines.measure([_grey_scene(20, 0, 200), _grey_scene(20, 120, 200)], batch=8)
    assert busy[1] > 3 * max(bare[1], 1e-4), (bare, busy)  # the strokes are background ink


def test_onnx_agrees_with_torch_and_the_cache_is_reused(learnt, tmp_path):
    data, tag_sets, palette, measured, cache, out, _ = learnt
    kept = sorted(cache.glob("lines-*.onnx"))
    assert len(kept) == 1 and kept[0].read_bytes() == out.read_bytes()
    stamp = kept[0].stat().st_mtime_ns
    again = tmp_path / "again.onnx"
    cached(data, tag_sets, palette, measured, CFG, cache, again, progress=False)  # the same inputs: read back
    assert kept[0].stat().st_mtime_ns == stamp and again.read_bytes() == out.read_bytes()
    x = np.stack([grid_input(_grey_scene(r, 30, r), CFG.side) for r in (10, 30)])[:, None]
    net = train(x[:, 0], np.zeros((2, 16, 16), np.float32), np.ones((2, 16, 16), np.float32),
                replace(CFG, steps=3), progress=False)
    export(net, tmp_path / "small.onnx", CFG.side)
    with torch.no_grad():
        want = torch.sigmoid(net(torch.from_numpy(x))).numpy()[:, 0]
    got = LineFigure(tmp_path / "small.onnx").grids([_grey_scene(r, 30, r) for r in (10, 30)], batch=1)
    assert np.abs(got - want).max() < 1e-4
    other = replace(CFG, seed=1)  # other settings: another network, the old one dropped
    cached(data, tag_sets, palette, measured, other, cache, tmp_path / "other.onnx", progress=False)
    assert [p.name for p in cache.glob("lines-*.onnx")] != [kept[0].name] and len(list(cache.glob("lines-*.onnx"))) == 1


def test_the_same_files_with_other_ink_maps_train_another_network(learnt, tmp_path):
    """The cache is named by the maps it learns from, not only by the files' md5s: an ink map of other code
    or other ``filter.encode`` settings must not be read by a network that learnt the old ones."""
    data, tag_sets, palette, measured, *_ = learnt
    quick, cache = replace(CFG, steps=2), tmp_path / "cache"
    cache.mkdir()
    cached(data, tag_sets, palette, measured, quick, cache, tmp_path / "a.onnx", progress=False)
    first = [p.name for p in cache.glob("lines-*.onnx")]
    fainter = data.assign(ink_map=[_pack(unpack(b) // 2) for b in data["ink_map"]])  # same md5s and colours
    cached(fainter, tag_sets, palette, measured, quick, cache, tmp_path / "b.onnx", progress=False)
    second = [p.name for p in cache.glob("lines-*.onnx")]
    assert len(first) == len(second) == 1 and first != second
    cached(data, tag_sets, palette, measured, quick, cache, tmp_path / "c.onnx", progress=False)
    assert [p.name for p in cache.glob("lines-*.onnx")] == first  # the first maps again: their network again
