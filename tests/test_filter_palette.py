"""The palette (each character's colours, learnt from tags) and the calibration rule, on drawn pictures whose
figure area and line density are known exactly: non-square pictures, framed re-uploads, contradicting verdicts."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from pipeline.filter.calibrate import calibrate, fit_logistic, probability
from pipeline.filter.config import CalibrationParams
from pipeline.filter.maps import _shares, fit, maps, unpack
from pipeline.filter.palette import Palette, PaletteParams, _whole, learn

PARAMS = PaletteParams(min_colour=0.002, cutout_tags=("white_background",), background_tags=("wide_shot",),
                       scenery_tags=("simple_background", "detailed_background"), exclude_tags=("portrait",),
                       min_cutouts=3, min_distance=0.34, ratio=30.0, top=12, need=3, major=0.2, panels=2, panel_cover=0.5)
HAIR, DRESS, SKY, GRASS = (200, 40, 60), (60, 80, 200), (150, 200, 235), (90, 170, 70)
OTHER = ((240, 220, 60), (120, 40, 160))  # another character: blonde, in purple


def figure(canvas: np.ndarray, cx: int, cy: int, r: int, colours: tuple = (HAIR, DRESS)) -> None:
    """A figure of the character: red hair over a blue dress, inked outline."""
    hair, dress = colours
    cv2.ellipse(canvas, (cx, cy + r), (r, 2 * r), 0, 0, 360, dress, -1)
    cv2.circle(canvas, (cx, cy - r), r, hair, -1)
    cv2.circle(canvas, (cx, cy - r), r, (28, 22, 34), 1)


def scene(w: int, h: int, r: int, lines: int = 0, seed: int = 0) -> np.ndarray:
    """Sky over grass, ``lines`` random ink strokes in the grass, one figure of radius ``r`` in the middle."""
    rng = np.random.default_rng(seed)
    pic = np.zeros((h, w, 3), np.uint8)
    pic[: h // 2], pic[h // 2:] = SKY, GRASS
    for _ in range(lines):
        x, y = int(rng.integers(0, w)), int(rng.integers(h // 2, h))
        cv2.line(pic, (x, y), (x + int(rng.integers(-40, 40)), y + int(rng.integers(-40, 40))), (28, 22, 34), 1)
    if r:
        figure(pic, w // 2, h // 2, r)
    return pic


def encoded(pic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fitted, sized = fit(pic, 256)  # as encoding makes them
    colours, ink = maps(fitted, cv2.cvtColor(sized, cv2.COLOR_RGB2GRAY), 25.0)
    return unpack(colours), unpack(ink)


@pytest.fixture(scope="module")
def palette() -> Palette:
    pics, tags = [], []
    for k in range(12):  # cut-outs: each character on white paper
        pic = np.full((600, 400, 3), 255, np.uint8)
        figure(pic, 200, 300, 40 + 5 * k, (HAIR, DRESS) if k % 2 else OTHER)
        pics.append(pic)
        tags.append({"white_background", "1girl", *(("alice", "red_hair") if k % 2 else ("bea", "blonde_hair"))})
    for k in range(6):  # wide shots: mostly sky and grass
        pics.append(scene(700, 500, 6, lines=20, seed=k))
        tags.append({"wide_shot", "simple_background", "1girl"})
    levels = [encoded(p)[0] for p in pics]
    return learn(levels, tags, np.full(len(pics), 0.5), PARAMS)


def test_maps_keep_the_aspect_and_paint_a_frame_white():
    pic = scene(900, 400, 30)
    framed = cv2.copyMakeBorder(pic, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=HAIR)  # a frame in hair red
    colours, ink = encoded(framed)
    assert colours.shape[1] == 256 and abs(colours.shape[0] - 480 * 256 / 980) <= 1  # 980 x 480, fitted
    assert ink.shape == colours.shape[:2]
    assert (colours[:5] == 31).all() and (colours[:, :5] == 31).all()  # the frame: white paper
    assert colours.max() <= 31 and ink.dtype == np.uint8


def test_appearance_tags_are_the_ones_that_name_the_colours(palette):
    assert set(palette.profiles) == {"alice", "red_hair", "bea", "blonde_hair"}  # "1girl": on every picture


@pytest.mark.parametrize("shape", [(800, 500), (500, 800)])
def test_figure_share_follows_the_drawn_area(palette, shape):
    w, h = shape
    shares = []
    for r in (12, 20, 36):  # 0.3% to 3% of the picture: the corpus's small figures and more
        pic = scene(w, h, r)
        truth = float(((pic == HAIR).all(axis=2) | (pic == DRESS).all(axis=2)).mean())
        share, _ = palette.measure(*encoded(pic), {"alice", "1girl"})
        assert share == pytest.approx(truth, rel=0.25), (r, share, truth)
        shares.append(share)
    assert shares == sorted(shares)
    assert palette.measure(*encoded(scene(w, h, 16)), {"1girl", "smile"}) is None  # no appearance tag


def test_figure_share_holds_her_lines_and_not_a_prop_in_her_colours(palette):
    """The figure is her colours' blob with the lines drawn on and about it (the truth's figure holds its
    outline and inner lines); two dolls in her colours away from her, a tenth of her size, are not her."""
    pic = scene(800, 600, 0)
    her = np.zeros(pic.shape[:2], np.uint8)
    cv2.ellipse(her, (400, 330), (36, 72), 0, 0, 360, 1, -1)
    cv2.circle(her, (400, 264), 36, 1, -1)
    figure(pic, 400, 300, 36)
    outline = cv2.morphologyEx(her, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0  # a 4 px outline
    pic[outline] = (28, 22, 34)
    for k in range(6):  # the folds of her dress
        cv2.line(pic, (380, 320 + 12 * k), (420, 326 + 12 * k), (28, 22, 34), 2)
    truth = float((cv2.dilate(her, np.ones((5, 5), np.uint8)) > 0).mean())  # her, out to her outline's edge
    share, _ = palette.measure(*encoded(pic), {"alice"})
    for x in (120, 680):
        figure(pic, x, 470, 12)
    with_dolls, _ = palette.measure(*encoded(pic), {"alice"})
    assert share == pytest.approx(truth, rel=0.08), (share, truth)
    assert with_dolls == pytest.approx(share, rel=0.02), (with_dolls, share)


def test_background_ink_counts_the_strokes_not_the_figure(palette):
    for n in (30, 120):
        bare, busy = scene(800, 600, 40, seed=1), scene(800, 600, 40, lines=n, seed=1)
        strokes = float((bare != busy).any(axis=2).mean())  # the strokes' pixels (the figure covers a few)
        ink = palette.measure(*encoded(busy), {"alice"})[1]
        assert ink == pytest.approx(strokes, rel=0.3), (n, ink, strokes)
    assert palette.measure(*encoded(scene(800, 600, 40, seed=1)), {"alice"})[1] < 0.0002  # its outline is not


def test_background_ink_leaves_out_what_the_figure_encloses_and_counts_a_prop_in_her_colours(palette):
    """The figure's holes (a part in a colour of no profile, with lines drawn in it) are figure; a prop in
    her colours away from her, a fifth of her size or less, is background, and so is its outline."""
    bare = scene(800, 600, 50, seed=2)
    holed = bare.copy()
    cv2.circle(holed, (400, 300 + 60), 32, (250, 250, 250), -1)  # a white apron on her dress ...
    for k in range(5):  # ... with lines drawn in it
        cv2.line(holed, (380, 342 + 9 * k), (420, 342 + 9 * k), (28, 22, 34), 1)
    assert palette.measure(*encoded(holed), {"alice"})[1] == pytest.approx(
        palette.measure(*encoded(bare), {"alice"})[1], abs=2e-5)
    props = bare.copy()
    for x in (120, 680):  # two dolls in her colours on the grass, far smaller than she is
        figure(props, x, 470, 12)
    ink = palette.measure(*encoded(props), {"alice"})[1]
    lines = float(((props != bare).any(axis=2) & (props == (28, 22, 34)).all(axis=2)).mean())  # their outlines
    assert ink == pytest.approx(lines, rel=0.5), (ink, lines)


INK = (20, 20, 24)  # a comic's line ink, and the hair colour of its character


def comic_page(w: int, h: int, paper: tuple = (255, 255, 255)) -> tuple[np.ndarray, float]:
    """A page of 2 x 2 bordered white panels inside a margin of ``paper``, a black-haired figure in each
    panel with its hair over the panel's top border (as a page's characters touch its borders). Returns the
    page and the share of it its borders cover where no figure is drawn over them."""
    page = np.full((h, w, 3), paper, np.uint8)
    m, gut, lw = 30, 20, 4
    pw, ph = (w - 2 * m - gut) // 2, (h - 2 * m - gut) // 2
    borders = np.zeros((h, w), np.uint8)
    for x in (m, m + pw + gut):
        for y in (m, m + ph + gut):
            page[y:y + ph, x:x + pw] = 255
            cv2.rectangle(borders, (x, y), (x + pw, y + ph), 1, lw)
            figure(page, x + pw // 2, y + 36, 36, (INK, DRESS))  # the head centred on the border
    page[borders > 0] = INK
    hair_or_dress = (page == DRESS).all(axis=2) | ((page == INK).all(axis=2) & (borders == 0))
    return page, float(((borders > 0) & ~hair_or_dress).mean())


def dark_palette() -> Palette:
    """A palette whose ``cara`` has the page's ink for hair and wears ``DRESS``."""
    pics, tags = [], []
    for k in range(8):  # cut-outs of a character whose hair is the page's ink, and of another one
        pic = np.full((600, 400, 3), 255, np.uint8)
        figure(pic, 200, 300, 40 + 5 * k, (INK, DRESS) if k % 2 else OTHER)
        pics.append(pic)
        tags.append({"white_background", *(("cara", "black_hair") if k % 2 else ("bea", "blonde_hair"))})
    for k in range(4):
        pics.append(scene(700, 500, 6, lines=20, seed=k))
        tags.append({"wide_shot", "simple_background"})
    dark = learn([encoded(p)[0] for p in pics], tags, np.full(len(pics), 0.5), PARAMS)
    assert "cara" in dark.profiles
    return dark


def test_a_panelled_page_counts_its_borders_as_background_ink():
    dark = dark_palette()
    page, borders = comic_page(900, 700)
    maps_ = encoded(page)
    share, ink = dark.measure(*maps_, {"cara"}, panelled=True)
    share_single, ink_single = dark.measure(*maps_, {"cara"})
    assert ink == pytest.approx(borders, rel=0.35), (ink, borders)
    assert ink_single < 0.5 * ink  # read as one illustration, the borders join the figure they touch
    assert share == share_single  # the figure's share is not the panels' business


def test_a_figure_stays_inside_its_panel_when_the_gutters_are_in_her_colours():
    """Gutters printed in a colour of hers join her figure through the hair she draws over a border; they
    and the borders about them are still the page's background, not her."""
    dark = dark_palette()
    page, borders = comic_page(900, 700, paper=DRESS)
    share, ink = dark.measure(*encoded(page), {"cara"}, panelled=True)
    assert ink == pytest.approx(borders, rel=0.35), (ink, borders)


def test_a_saved_palette_measures_the_same_and_its_json_is_stable(palette):
    doc = json.dumps(palette.to_doc(), sort_keys=True)
    again = Palette.from_doc(json.loads(doc), "test")
    pic = encoded(scene(640, 480, 20, lines=10))
    assert again.measure(*pic, {"alice"}) == palette.measure(*pic, {"alice"})
    assert json.dumps(again.to_doc(), sort_keys=True) == doc


CAL = CalibrationParams(min_labels=6, min_each=2, prior_tags=0.5, prior_width=0.02, sharpest=8.0, lapse=0.05,
                        threshold=0.5)


def boundary(curve: dict) -> float:
    return float(np.asarray(curve["x"])[np.argmax(np.asarray(curve["p"]) >= 0.5)])


def test_verdicts_on_both_sides_put_the_boundary_where_people_do():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, 2000)
    weak = (x > 1.0).astype(float)  # the tags put the boundary at 1
    human = np.full(2000, np.nan)
    near = np.argsort(np.abs(x + 1.0))[:40]  # people put it at -1
    human[near] = (x[near] > -1.0).astype(float)
    tags_only = calibrate(x, weak, np.full(2000, np.nan), CAL)
    fit = calibrate(x, weak, human, CAL)
    assert tags_only["how"] == "tags" and fit["how"] == "verdicts" and fit["labels"] == 40
    # half the prior spreads over every rank: it pulls the tags' boundary down a little
    assert boundary(tags_only) == pytest.approx(1.0, abs=0.15)
    assert boundary(fit) == pytest.approx(-1.0, abs=0.1)
    assert probability(np.array([-3.0, 1.0]), fit).round().tolist() == [0.0, 1.0]
    assert np.all(np.diff(fit["p"]) >= -1e-9)  # more score, never less probability


def test_one_sided_verdicts_send_the_boundary_into_the_ranks_left():
    """All "no" around the tags' boundary: the boundary jumps past them, into the middle of what is left
    (a bisection), not one step along."""
    x = np.linspace(-5, 5, 1001)
    weak = (x > 1.0).astype(float)
    human = np.full(1001, np.nan)
    human[(x > 0.8) & (x < 1.2)] = 0.0
    moved = calibrate(x, weak, human, CAL)
    assert moved["how"] == "verdicts" and 2.0 < boundary(moved) < 4.0
    assert calibrate(x, np.full(1001, np.nan), np.full(1001, np.nan), CAL)["how"] == "none"
    only_verdicts = calibrate(x, np.full(1001, np.nan), np.where(np.abs(x) < 0.5, (x > 0).astype(float), np.nan),
                              CAL)
    assert only_verdicts["how"] == "verdicts" and boundary(only_verdicts) == pytest.approx(0.0, abs=0.1)


def test_one_odd_verdict_leaves_the_pictures_beyond_it_borderline():
    """27 "no" verdicts and, just above them, one "yes" (a picture the measure misread). The pictures a few
    ranks above that "yes" must stay near the threshold, where the report shows them next, instead of
    being read as "yes" for sure: with a boundary as sharp as a third of a picture and no lapse, they were."""
    x = -np.linspace(0.0, 1.0, 400)  # index 0 scores highest
    human = np.full(400, np.nan)
    human[np.arange(40, 120, 3)] = 0.0
    human[38] = 1.0
    weak = np.full(400, np.nan)
    fit = calibrate(x, weak, human, CAL)
    assert abs(probability(x[30:31], fit)[0] - 0.5) < 0.1  # 8 pictures above the "yes"
    pinned = calibrate(x, weak, human, dataclasses.replace(CAL, sharpest=0.3, lapse=0.0))
    assert probability(x[30:31], pinned)[0] > 0.75
    for f in (fit, pinned):
        assert probability(x[60:61], f)[0] < 0.3 and np.all(np.diff(f["p"]) >= -1e-9)


def test_the_logistic_fit_recovers_a_known_model():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1.5, 20000)
    y = (rng.random(20000) < 1 / (1 + np.exp(-(2.0 * x - 6.0)))).astype(float)
    a, b = fit_logistic(x, y, np.ones_like(x))
    assert a == pytest.approx(2.0, rel=0.08) and b == pytest.approx(-6.0, rel=0.08)


def test_her_figure_holds_what_she_encloses_but_not_the_picture_around_a_frame_she_touches():
    """``_whole``: a part in a colour of no profile inside her (a white dress) is hers; a frame line she
    touches encloses the whole picture, a hole larger than her, which stays background."""
    her = np.zeros((100, 120), np.uint8)
    her[20:80, 40:80] = 1
    her[40:70, 52:68] = 0  # the white dress: no profile has it, her colours and lines enclose it
    whole = _whole(her)
    assert whole[55, 60] == 1 and cv2.countNonZero(whole) == 60 * 40
    framed = her.copy()
    cv2.rectangle(framed, (0, 0), (119, 99), 1, 1)  # a frame line ...
    framed[80:, 60] = 1  # ... that her foot touches
    got = _whole(framed)
    assert got[55, 60] == 1 and got[10, 10] == 0 and cv2.countNonZero(got) < 2 * cv2.countNonZero(framed)


@pytest.mark.parametrize("size,quality", [((1400, 1000), 60), ((1000, 1400), 90), ((900, 700), 75)])
def test_the_fine_ink_map_counts_the_file_line_pixels_through_jpeg_noise(size, quality):
    """``filter.encode.fine_ink``: the ink map holds each cell's share of the file's line pixels (1 px ink
    strokes over sky and grass, a JPEG of them), read from the file's own grey. The map at 512 px reads
    JPEG's noise about the strokes as ink too: 15% too much at quality 60."""
    w, h = size
    rng = np.random.default_rng(quality)
    pic = np.zeros((h, w, 3), np.uint8)
    pic[: h // 2], pic[h // 2:] = SKY, GRASS
    drawn = np.zeros((h, w), np.uint8)
    for _ in range(500):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        end = (x + int(rng.integers(-60, 60)), y + int(rng.integers(-60, 60)))
        cv2.line(pic, (x, y), end, (28, 22, 34), 1)
        cv2.line(drawn, (x, y), end, 1, 1)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(pic, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    file = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    fitted, sized = fit(file, 256)
    grey = cv2.cvtColor(sized, cv2.COLOR_RGB2GRAY)
    fine = unpack(maps(fitted, grey, 25.0, cv2.cvtColor(file, cv2.COLOR_RGB2GRAY))[1])
    at_512 = unpack(maps(fitted, grey, 25.0)[1])
    assert fine.shape == at_512.shape == fitted.shape[:2]
    true = drawn.mean()
    assert abs(fine.mean() / 255 / true - 1) < 0.03
    if quality == 60:
        assert abs(at_512.mean() / 255 / true - 1) > 0.08


@pytest.mark.parametrize("shape,cell", [((600, 960), 4), ((3000, 3600), 12)])
def test_the_fine_ink_cells_hold_the_exact_share_of_line_pixels(shape, cell):
    """Each cell of the fine ink map holds its share of the file's line pixels, rounded once: a file over
    8.4 Mpx too (its sums would overflow 32 bits in 255s)."""
    h, w = shape
    mask = (np.random.default_rng(h).random(shape) < 0.07).astype(np.uint8) * 255
    got = _shares(mask, (w // cell, h // cell))
    count = (mask.reshape(h // cell, cell, w // cell, cell) > 0).sum(axis=(1, 3))
    want = (count * 255 + cell ** 2 // 2) // cell ** 2  # the share in 255ths, a half rounded up
    assert got.shape == want.shape and (got == want).all()


def test_a_fine_ink_mask_smaller_than_the_maps_is_resampled_not_divided_by_empty_cells():
    mask = (np.random.default_rng(1).random((100, 150)) < 0.1).astype(np.uint8) * 255
    got = _shares(mask, (256, 170))
    assert got.shape == (170, 256) and abs(got.mean() / mask.mean() - 1) < 0.02
