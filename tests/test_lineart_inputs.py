"""Line art on awkward inputs: the training-resolution policy, every method's output, the truth rule.

Files are made here (non-square, tiny, huge, alpha, 8-bit grey, CMYK, EXIF-rotated, 16-bit, palette with
transparency), each a drawing of known black outlines on colour flats, so the tests can say where ink
must and must not be.
"""

from __future__ import annotations

from dataclasses import astuple, replace

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image

from pipeline.config import ConfigError, from_mapping
from pipeline.crawl.config import SAMPLE_SOURCE
from pipeline.lineart import LineartConfig, Variant, geometry, load_scaled, true_lines
from pipeline.lineart.config import ResizeParams, TruthSource
from pipeline.lineart.extract import make_pair
from pipeline.lineart.methods import extract, thicken
from pipeline.lineart.resize import Unreadable, place
from pipeline.lineart.truth import counts, prf
from tests.conftest import REPO, repo_params

CFG = repo_params("lineart", LineartConfig)
ALL = tuple(Variant(m, m, 0) for m in ("xdog", "dilate", "adaptive"))


def drawing(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB: a red flat with a shadow tone and a black outline on white; and the outline's mask.

    The outline is about 2.5 pixels wide at the training resolution, as the corpus's thicker outlines are.
    """
    rgb = np.full((h, w, 3), 255, np.uint8)
    t = max(1, round(2.5 * max(w, h) / CFG.resize.long_side))
    box = (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
    cv2.rectangle(rgb, box[:2], box[2:], (210, 70, 60), -1)
    cv2.rectangle(rgb, (w // 2, h // 4), box[2:], (160, 52, 66), -1)  # the flat's shadow tone
    mask = np.zeros((h, w), np.uint8)
    cv2.rectangle(mask, box[:2], box[2:], 1, t)
    rgb[mask > 0] = (25, 20, 30)
    return rgb, mask > 0


def save(tmp_path, name: str, img: Image.Image, **kw) -> str:
    path = tmp_path / name
    img.save(path, **kw)
    return str(path)


def check_pair(color: np.ndarray, lines: list[np.ndarray], g, mask=None) -> None:
    """One RGB and one-channel line pictures of the output size, dark lines on white, ink on the outline."""
    assert color.shape == (g.out_h, g.out_w, 3) and color.dtype == np.uint8
    assert g.out_w % CFG.resize.multiple == 0 and g.out_h % CFG.resize.multiple == 0
    for a in lines:
        assert a.shape == (g.out_h, g.out_w) and a.dtype == np.uint8
        assert np.median(a) == 255, "paper is white"
        if mask is not None:
            truth = true_lines(mask, g)
            p, r, f = prf(*counts(a, truth))
            assert r >= 0.9 and p >= 0.6, (p, r)


@pytest.mark.parametrize("w,h", [(1600, 900), (700, 1500), (2000, 2000), (300, 200)])
def test_non_square_pictures_keep_their_aspect_and_pad_to_the_multiple(tmp_path, w, h):
    rgb, mask = drawing(w, h)
    scaled, g = load_scaled(save(tmp_path, "a.png", Image.fromarray(rgb)), CFG.resize, CFG.max_pixels)
    assert max(g.scaled_w, g.scaled_h) == min(CFG.resize.long_side, max(w, h))
    assert abs(g.scaled_w / g.scaled_h - w / h) < 0.02
    color, lines = make_pair(scaled, g, replace(CFG, variants=ALL))
    check_pair(color, lines, g, mask)
    assert (color[:max(1, g.y0), :max(1, g.x0)] == 255).all(), "white padding"


def test_the_policy_geometry():
    r = CFG.resize

    def geo(w, h, p):
        return astuple(geometry(w, h, p))[2:]

    assert geo(2000, 1250, r) == (256, 160, 256, 160, 0, 0)
    assert geo(1000, 333, r) == (256, 85, 256, 96, 0, 5)
    assert geo(1, 1, r) == (1, 1, 32, 32, 15, 15), "never enlarged; padded to one multiple"
    assert geo(1, 1, replace(r, upscale=True))[:2] == (256, 256)
    crop = replace(r, fit="crop")
    assert geo(1000, 333, crop) == (256, 85, 256, 64, 0, -11)
    assert geo(20, 10, crop)[2:4] == (32, 32), "a side under one multiple is padded even when cropping"
    a = np.arange(85 * 256).reshape(85, 256)
    assert (place(a, geometry(1000, 333, crop), -1) == a[11:75]).all()


@pytest.mark.parametrize("size,out", [((1, 1), (32, 32)), ((7, 5), (32, 32)), ((40, 12), (64, 32))])
def test_tiny_pictures(tmp_path, size, out):
    rgb, _ = drawing(*size)
    scaled, g = load_scaled(save(tmp_path, "t.png", Image.fromarray(rgb)), CFG.resize, CFG.max_pixels)
    assert (g.scaled_w, g.scaled_h) == size and (g.out_w, g.out_h) == out
    check_pair(*make_pair(scaled, g, replace(CFG, variants=ALL)), g)


def test_huge_pictures_decode_reduced_and_bombs_are_refused(tmp_path):
    rgb, mask = drawing(6000, 4000)
    path = save(tmp_path, "huge.jpg", Image.fromarray(rgb), quality=90)
    scaled, g = load_scaled(path, CFG.resize, CFG.max_pixels)
    assert (g.width, g.height, g.out_w, g.out_h) == (6000, 4000, 256, 192)
    check_pair(*make_pair(scaled, g, replace(CFG, variants=ALL)), g, mask)
    full, _ = load_scaled(path, replace(CFG.resize, draft=False), CFG.max_pixels)
    assert np.abs(full.astype(int) - scaled).mean() < 3, "a draft decode is the same picture"
    with pytest.raises(Unreadable, match="too_many_pixels"):
        load_scaled(path, CFG.resize, 6000 * 4000 - 1)


def test_alpha_is_composited_on_white(tmp_path):
    rgb, mask = drawing(600, 400)
    rgba = np.zeros((400, 600, 4), np.uint8)  # transparent black around the flat: must read as paper
    inside = np.zeros((400, 600), bool)
    inside[90:311, 140:461] = True  # the flat and its whole outline
    rgba[inside, :3], rgba[inside, 3] = rgb[inside], 255
    scaled, g = load_scaled(save(tmp_path, "a.png", Image.fromarray(rgba, "RGBA")), CFG.resize, CFG.max_pixels)
    assert (scaled[:5, :5] == 255).all()
    pal = Image.fromarray(rgb).quantize(16)
    white = int(np.argmax(np.array(pal.getpalette()[:48]).reshape(-1, 3).sum(axis=1)))
    scaled_p, _ = load_scaled(save(tmp_path, "p.png", pal, transparency=white), CFG.resize, CFG.max_pixels)
    assert (scaled_p[:5, :5] == 255).all()
    check_pair(*make_pair(scaled, g, replace(CFG, variants=ALL)), g, mask)


def test_grey_cmyk_and_16_bit_become_rgb(tmp_path):
    rgb, mask = drawing(1600, 1200)  # large enough for a JPEG's draft decode
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    files = {"grey.png": Image.fromarray(grey), "grey.jpg": Image.fromarray(grey),
             "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"), "i16.png": Image.fromarray(grey.astype("<u2") * 257)}
    ref, _ = load_scaled(save(tmp_path, "rgb.png", Image.fromarray(rgb)), CFG.resize, CFG.max_pixels)
    for name, img in files.items():
        scaled, g = load_scaled(save(tmp_path, name, img), CFG.resize, CFG.max_pixels)
        assert scaled.shape == ref.shape and scaled.dtype == np.uint8, name
        if name != "cmyk.jpg":
            assert (scaled[..., 0] == scaled[..., 2]).all(), f"{name}: grey stays grey"
            assert np.abs(scaled[..., 0].astype(int) - cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)).mean() < 4, name
        else:
            assert np.abs(scaled.astype(int) - ref).mean() < 4
        check_pair(*make_pair(scaled, g, replace(CFG, variants=ALL)), g, mask)


@pytest.mark.parametrize("orientation,store", [(3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90),
                                               (8, Image.Transpose.ROTATE_270)])
def test_exif_orientation_is_applied(tmp_path, orientation, store):
    rgb, mask = drawing(2400, 1300)  # large enough for a draft decode of the stored (turned) picture
    rgb[:160, :160] = (0, 0, 0)  # a mark in the displayed picture's top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save(tmp_path, "r.jpg", Image.fromarray(rgb).transpose(store), quality=92, exif=exif.tobytes())
    scaled, g = load_scaled(path, CFG.resize, CFG.max_pixels)
    assert (g.width, g.height) == (2400, 1300)
    assert scaled[:3, :3].max() < 60 and scaled[-3:, -3:].min() > 200


def test_each_method_is_one_channel_of_the_size_with_dark_lines_on_white():
    rgb, mask = drawing(256, 160)
    g = geometry(256, 160, CFG.resize)
    for lines, v in zip(extract(rgb, ALL, CFG.methods, CFG.channel), ALL, strict=True):
        assert lines.shape == (160, 256) and lines.dtype == np.uint8, v.method
        p, r, f = prf(*counts(lines, true_lines(mask, g)))
        assert r >= 0.95 and p >= (0.9 if v.name == CFG.default else 0.75), (v.method, p, r)
        assert (lines[80, 20:40] == 255).all() and (lines[80, 90:110] == 255).all(), "paper and flats are white"
    heavy = thicken(lines, 1)
    assert (heavy <= lines).all() and (heavy < 128).sum() > (lines < 128).sum()


def test_same_params_give_the_same_bytes(tmp_path):
    rgb, _ = drawing(1200, 700)
    path = save(tmp_path, "d.jpg", Image.fromarray(rgb), quality=85)
    a = [x.tobytes() for x in make_pair(*load_scaled(path, CFG.resize, CFG.max_pixels), replace(CFG, variants=ALL))[1]]
    b = [x.tobytes() for x in make_pair(*load_scaled(path, CFG.resize, CFG.max_pixels), replace(CFG, variants=ALL))[1]]
    assert a == b


def test_the_truth_rule_has_a_one_pixel_tolerance():
    truth = np.zeros((64, 64), bool)
    truth[:, 30] = True
    for shift, expect in ((0, 1.0), (1, 1.0), (2, 0.0)):
        lines = np.full((64, 64), 255, np.uint8)
        lines[:, 30 + shift] = 0
        assert prf(*counts(lines, truth))[2] == expect
    wide = np.zeros((400, 400), bool)
    wide[:, 200:204] = True  # 4 px at file size: one pixel after a x4 area reduction, fully covered
    t = true_lines(wide, geometry(400, 400, replace(CFG.resize, long_side=100)))
    assert t.shape == (128, 128) and t[14:114, 64].all() and t.sum() == 100


def test_config_is_checked():
    data = {"source": "sample", "seed": 0, "posts": 10}
    assert from_mapping(TruthSource, data, "t").is_sample and SAMPLE_SOURCE == "sample"
    bad = yaml.safe_load((REPO / "params.yaml").read_text())["lineart"]
    with pytest.raises(ConfigError, match="default"):
        from_mapping(LineartConfig, {**bad, "default": "nope"}, "params.yaml: lineart")
    with pytest.raises(ConfigError, match="method"):
        from_mapping(LineartConfig, {**bad, "variants": [{"name": "a", "method": "sobel", "thicken": 0}]}, "p")
    with pytest.raises(ConfigError, match="fit"):
        from_mapping(ResizeParams, {**bad["resize"], "fit": "stretch"}, "p")
    with pytest.raises(ConfigError, match="missing key"):
        from_mapping(LineartConfig, {k: v for k, v in bad.items() if k != "channel"}, "p")

