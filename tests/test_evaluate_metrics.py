"""The evaluation figures rank what they should: truth beats noise, colour beats the grey average."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pipeline.evaluate.metrics import picture_metrics, summarise


@pytest.fixture(scope="module")
def picture(corpus):
    for post in corpus.posts:
        t = corpus.truth(post.id)
        if t.tone == "color" and not t.broken and len(t.characters) == 1 and t.char_area > 0.2:
            rgb = np.asarray(Image.open(io.BytesIO(corpus.file_bytes(post.id))).convert("RGB").reduce(4))
            parts = corpus.part_map(post.id)[::4, ::4][: rgb.shape[0], : rgb.shape[1]]
            return rgb, parts
    raise AssertionError("no suitable post")


def test_the_truth_scores_perfectly(picture):
    rgb, parts = picture
    m = picture_metrics(rgb, rgb, parts)
    assert m["psnr"] == 100.0 and m["ssim"] == pytest.approx(1.0) and m["lab_hist"] == 0.0
    assert m["colourfulness"] == pytest.approx(1.0) and m["de_hair"] == 0.0
    assert m["hair_close"] is True and m["eyes_close"] is True


def test_grey_average_is_penalised_where_l1_would_not_see_it(picture):
    rgb, parts = picture
    grey = np.repeat(rgb.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    shifted = np.clip(rgb.astype(int) + 12, 0, 255).astype(np.uint8)  # right colours, a little lighter
    g, s = picture_metrics(grey, rgb, parts), picture_metrics(shifted, rgb, parts)
    assert g["lab_hist"] > s["lab_hist"] and g["colourfulness"] < 0.3 < s["colourfulness"]
    assert g["de_hair"] > s["de_hair"] and g["hair_close"] is False and s["hair_close"] is True
    assert g["ssim"] < 1.0 and s["psnr"] > 20


def test_summary_means_and_shares():
    rows = [{"psnr": 20.0, "hair_close": True, "eyes_close": False},
            {"psnr": 30.0, "hair_close": True, "eyes_close": True},
            {"psnr": 25.0, "hair_close": None, "eyes_close": None}]
    s = summarise(rows)
    assert s["psnr"] == 25.0 and s["hair_close"] == 1.0 and s["eyes_close"] == 0.5
    assert s["hair_close_pictures"] == 2 and s["hair_and_eyes_close"] == 0.5 and s["pictures"] == 3
    with pytest.raises(ValueError):
        picture_metrics(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
