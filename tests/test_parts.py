"""The corpus's part map (ground truth for the evaluate stage): aligned with the pixels, true to the colours."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from pipeline.samplebooru.canvas import _shadow_of
from pipeline.samplebooru.corpus import PARTS
from pipeline.samplebooru.render import render_post
from pipeline.samplebooru.spec import CAST_BY_NAME, make_spec


def _segment_distance(px: np.ndarray, a, b) -> np.ndarray:
    """Distance of each RGB pixel to the blend line from colour ``a`` to colour ``b``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    t = np.clip(((px - a) @ d) / (d @ d), 0, 1)
    return np.linalg.norm(px - (a + t[:, None] * d), axis=1)


def test_part_map_follows_the_pixels_and_the_characters_colours(corpus):
    """Inside a hair or skin region the pixel is the character's flat colour, its shadow tone or a blend of
    the two (the renderer's 3x3 anti-aliasing); lines are exactly the line mask; shapes match the file."""
    share = {"hair": [0, 0], "skin": [0, 0]}
    checked = 0
    for post in corpus.posts:
        t = corpus.truth(post.id)
        parts = corpus.part_map(post.id)
        if t.broken in ("truncated", "not_image", "one_pixel", "decompression_bomb"):
            assert parts is None
            continue
        mask = corpus.line_mask(post.id)
        assert parts.shape == mask.shape and parts.dtype == np.uint8 and parts.max() < len(PARTS)
        assert np.array_equal(parts == PARTS.index("line"), mask), post.id
        if t.tone != "color" or t.broken or post.ext != "png" or len(t.characters) != 1:
            continue
        px = np.asarray(Image.open(io.BytesIO(corpus.file_bytes(post.id))).convert("RGB")).astype(float)
        ch = CAST_BY_NAME[t.characters[0]]
        for name, rgb in (("hair", ch.hair_rgb), ("skin", ch.skin_rgb)):
            inner = cv2.erode((parts == PARTS.index(name)).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            share[name][0] += int((_segment_distance(px[inner], rgb, _shadow_of(rgb)) <= 4).sum())
            share[name][1] += int(inner.sum())
        assert (parts[np.asarray(Image.open(io.BytesIO(corpus.file_bytes(post.id))).convert("L")) == 255]
                != PARTS.index("line")).all()
        checked += 1
        if checked == 40:
            break
    assert checked == 40
    for name, (good, total) in share.items():
        assert good / total >= 0.95, (name, good / total)  # the rest: highlights, mouths, blush


def test_part_map_leaves_the_posts_bytes_as_they_were(corpus):
    """The part map is computed on demand, never cached: the rendered bytes are the corpus's bytes."""
    for index in (0, 3, 17, 42):
        post = corpus.posts[index]
        assert render_post(make_spec(corpus.seed, index)).data == corpus.file_bytes(post.id)
