"""The sample corpus: deterministic, and its ground truth agrees with the pixels it ships."""

from __future__ import annotations

import io
import warnings

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy.stats import spearmanr

from pipeline.samplebooru import reuploads
from pipeline.samplebooru.corpus import Corpus
from pipeline.samplebooru.render import render_post
from pipeline.samplebooru.spec import (
    BROKEN_KINDS,
    CAST_BY_NAME,
    GENERAL_NOISE_TAGS,
    REUPLOAD_TRANSFORMS,
    make_spec,
)


def _decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return ImageOps.exif_transpose(im).convert("RGB")


def _rgb(corpus: Corpus, post_id: int) -> np.ndarray:
    return np.asarray(_decode(corpus.file_bytes(post_id)))


def _working(corpus: Corpus):
    return [p for p in corpus.posts if corpus.truth(p.id).broken is None]


def _index_to_id(corpus: Corpus) -> dict[int, int]:
    return {corpus.truth(p.id).index: p.id for p in corpus.posts}


# ------------------------------------------------------------------------------------------ determinism


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = Corpus(10, seed=0, cache_dir=tmp_path / "a", workers=1)
    b = Corpus(10, seed=0, cache_dir=tmp_path / "b", workers=1)
    c = Corpus(10, seed=1, cache_dir=tmp_path / "c", workers=1)
    assert [p.md5 for p in a.posts] == [p.md5 for p in b.posts]
    assert [a.file_bytes(p.id) for p in a.posts] == [b.file_bytes(p.id) for p in b.posts]
    for p in a.posts:
        ma, mb = a.line_mask(p.id), b.line_mask(p.id)
        assert (ma is None) == (mb is None)
        if ma is not None:
            assert np.array_equal(ma, mb)
    assert not {p.md5 for p in a.posts} & {p.md5 for p in c.posts}


def test_render_is_a_pure_function_of_the_spec():
    for i in (0, 3, 17):
        spec = make_spec(0, i)
        r1, r2 = render_post(spec), render_post(spec)
        assert r1.data == r2.data and r1.char_bbox == r2.char_bbox and r1.clutter == r2.clutter


# ------------------------------------------------------------------------------------ ground truth


def test_truth_shapes_and_ranges(corpus):
    for p in _working(corpus):
        t = corpus.truth(p.id)
        mask = corpus.line_mask(p.id)
        assert mask is not None and mask.shape == (p.height, p.width)
        assert 0.0 <= t.clutter <= 1.0 and 0.0 <= t.char_area <= 1.0
        if t.char_bbox is not None:
            x0, y0, x1, y1 = t.char_bbox
            assert 0 <= x0 < x1 <= p.width and 0 <= y0 < y1 <= p.height
            assert t.char_area <= (x1 - x0) * (y1 - y0) / (p.width * p.height) + 1e-9


def test_line_mask_pixels_are_dark_ink(corpus):
    checked = 0
    for p in _working(corpus)[:120]:
        t = corpus.truth(p.id)
        if t.tone != "color":
            continue
        grey = _rgb(corpus, p.id).mean(axis=2)
        mask = corpus.line_mask(p.id)
        assert grey.shape == mask.shape
        on, off = grey[mask].mean(), grey[~mask].mean()
        assert on < 110, (p.id, on)
        assert off > on + 80, (p.id, on, off)
        checked += 1
    assert checked >= 60


def test_small_characters_have_small_boxes_holding_their_colours(corpus):
    checked = 0
    for p in _working(corpus):
        t = corpus.truth(p.id)
        if t.tone != "color" or t.layout != "illustration" or not 0 < t.char_area < 0.03:
            continue
        x0, y0, x1, y1 = t.char_bbox
        assert (x1 - x0) * (y1 - y0) < 0.25 * p.width * p.height
        rgb = _rgb(corpus, p.id)[y0:y1, x0:x1].astype(int)
        for name in t.characters:
            ch = CAST_BY_NAME[name]
            near = sum(int((np.abs(rgb - np.array(colour)).max(axis=2) <= 40).sum())
                       for colour in (ch.hair_rgb, ch.outfit_rgb))
            assert near >= 3, (p.id, name, near)
        checked += 1
    assert checked >= 20


def test_big_characters_fill_the_frame(corpus):
    close = [corpus.truth(p.id) for p in _working(corpus)
             if corpus.truth(p.id).layout == "illustration" and corpus.truth(p.id).char_scale > 1.6]
    far = [corpus.truth(p.id) for p in _working(corpus)
           if corpus.truth(p.id).layout == "illustration" and corpus.truth(p.id).char_scale < 0.3]
    assert len(close) >= 10 and len(far) >= 10
    assert min(t.char_area for t in close) > max(t.char_area for t in far)


def test_measured_clutter_follows_the_scene_parameter(corpus):
    ts = [corpus.truth(p.id) for p in _working(corpus) if corpus.truth(p.id).layout == "illustration"]
    rho = spearmanr([t.clutter for t in ts], [t.clutter_param for t in ts]).statistic
    assert rho > 0.9
    white = [t.clutter for t in ts if t.background == "white"]
    detailed = [t.clutter for t in ts if t.background == "detailed"]
    assert np.median(white) < 0.1 < 0.4 < np.median(detailed)


@pytest.mark.parametrize("field, top", [("char_area", 0.5), ("clutter", 0.85)])
def test_distributions_are_continuous(corpus, field, top):
    ts = [corpus.truth(p.id) for p in _working(corpus) if corpus.truth(p.id).layout == "illustration"]
    vals = np.sort([getattr(t, field) for t in ts])
    counts, _ = np.histogram(vals, bins=12, range=(0.0, top))
    # every bin of the range holds posts (no two easy clusters with nothing between them; spec 5 skews
    # both towards the easy end, so the far bins are thin but never empty) ...
    assert counts.min() >= 0.005 * len(vals), counts
    # ... and no value is far from its neighbour inside the range
    inner = vals[vals <= top]
    assert np.diff(inner).max() < 0.06


def test_tones_and_comics(corpus):
    seen = set()
    for p in _working(corpus):
        t = corpus.truth(p.id)
        if t.tone == "color" and t.layout == "illustration" and "color" in seen:
            continue
        rgb = _rgb(corpus, p.id).astype(int)
        spread = rgb.max(axis=2) - rgb.min(axis=2)
        if t.tone == "color":  # a small figure on white is mostly white: its coloured pixels, not the mean
            assert (spread > 24).mean() > 0.001, (p.id, t.tone)
        else:
            assert spread.mean() < 2.5, (p.id, t.tone)
        if t.tone == "lineart":
            grey, mask = rgb.mean(axis=2), corpus.line_mask(p.id)
            assert np.median(grey[~mask]) > 250 and grey[mask].mean() < 100  # black lines on white
        if t.layout == "comic":  # panel borders: long straight runs of ink
            mask = corpus.line_mask(p.id)
            assert mask.mean(axis=1).max() > 0.5 and mask.mean(axis=0).max() > 0.5
        seen.add(t.tone)
        seen.add(t.layout)
    assert {"color", "greyscale", "monochrome", "lineart", "comic"} <= seen


def test_sizes_are_booru_like(corpus):
    longs = [max(p.width, p.height) for p in _working(corpus)
             if corpus.truth(p.id).transform not in ("resize", "crop", "border")]
    inside = np.mean([600 <= s <= 2000 for s in longs])
    assert inside > 0.95


# ------------------------------------------------------------------------------------------- tags


def test_tag_noise_is_a_few_percent(corpus):
    missing = total = wrong = 0
    for p in corpus.posts:
        t = corpus.truth(p.id)
        tags = set(p.tags)
        total += len(t.true_tags)
        missing += len(set(t.true_tags) - tags)
        added = tags - set(t.true_tags) - set(GENERAL_NOISE_TAGS)
        wrong += bool(added)
        assert {e[1:] for e in t.tag_edits if e[0] == "+"} == added
        assert {e[1:] for e in t.tag_edits if e[0] == "-"} == set(t.true_tags) - tags
    assert 0.01 < missing / total < 0.06
    assert 0.005 < wrong / len(corpus.posts) < 0.08


# --------------------------------------------------------------------------- re-uploads and variants


def _pairs(corpus: Corpus, kind: str):
    ids = _index_to_id(corpus)
    for p in corpus.posts:
        t = corpus.truth(p.id)
        spec = make_spec(corpus.seed, t.index)
        # a re-upload of a re-upload is compared with the first drawing, which it re-uploads
        other = (t.dup_group if spec.dup_of is not None else None) if kind == "dup" else spec.parent_index
        if other is None or t.broken or corpus.truth(ids[other]).broken:
            continue
        yield p, ids[other], spec


def _undo(a: Image.Image, b: Image.Image, spec) -> tuple[Image.Image, Image.Image]:
    """The re-upload ``a`` and the first drawing ``b`` brought back to one frame: the crop box cut from
    ``b``, the border cut from ``a``, ``a`` flipped back, ``b`` toned, the overlay's corner blanked."""
    kind, params = spec.transform, spec.transform_params
    w, h = b.size
    if kind == "crop":
        b = b.crop(reuploads.crop_box(params, w, h))
    elif kind == "border":
        top, _, left, _ = reuploads.border_pads(params, w, h)
        a = a.crop((left, top, left + w, top + h))
    elif kind == "mirror":
        a = a.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif kind == "tone":
        b = Image.fromarray(reuploads.tone_curve(np.asarray(b), params))
    elif kind == "overlay":
        x0, y0, x1, y1 = reuploads.overlay_box(params, w, h)
        a, b = np.array(a), np.array(b)
        a[y0:y1, x0:x1] = b[y0:y1, x0:x1] = 0
        a, b = Image.fromarray(a), Image.fromarray(b)
    return a, b


def test_reuploads_decode_to_the_same_picture(corpus):
    dists, kinds = [], set()
    for p, orig, spec in _pairs(corpus, "dup"):
        a, b = _decode(corpus.file_bytes(p.id)), _decode(corpus.file_bytes(orig))
        if spec.transform in ("resize", "requality", "convert"):  # spec 5's light kinds stay near in pHash
            dists.append(imagehash.phash(a) - imagehash.phash(b))
        a, b = _undo(a, b, spec)
        assert b.size[0] >= a.size[0] and b.size[1] >= a.size[1]
        b = b.resize(a.size, Image.Resampling.BOX)
        diff = np.abs(np.asarray(a, float) - np.asarray(b, float)).mean()
        assert diff < 8, (p.id, spec.transform, diff)
        assert corpus.truth(p.id).dup_group == corpus.truth(orig).dup_group
        kinds.add(spec.transform)
    assert kinds == set(REUPLOAD_TRANSFORMS)
    assert len(dists) >= 8
    assert max(dists) <= 8, sorted(dists)


def test_variants_are_different_pictures(corpus):
    dists = []
    for p, parent, _ in _pairs(corpus, "variant"):
        a, b = _decode(corpus.file_bytes(p.id)), _decode(corpus.file_bytes(parent))
        dists.append(imagehash.phash(a) - imagehash.phash(b))
        assert corpus.truth(p.id).characters == corpus.truth(parent).characters
        assert corpus.truth(p.id).family == corpus.truth(parent).family
        assert corpus.post(p.id).parent_id == parent and corpus.post(parent).has_children
    assert len(dists) >= 10
    assert min(dists) > 16, sorted(dists)


# --------------------------------------------------------------------------------------- broken files


def _first_of_each_broken_kind(seed: int = 0):
    found = {}
    i = 0
    while len(found) < len(BROKEN_KINDS):
        spec = make_spec(seed, i)
        if spec.broken and spec.broken not in found:
            found[spec.broken] = spec
        i += 1
    return found


def test_each_broken_kind_is_really_broken():
    for kind, spec in _first_of_each_broken_kind().items():
        r = render_post(spec)
        data = io.BytesIO(r.data)
        if kind == "truncated":
            im = Image.open(data)
            with pytest.raises(OSError):
                im.load()
        elif kind == "not_image":
            with pytest.raises(UnidentifiedImageError):
                Image.open(data)
        elif kind == "decompression_bomb":
            assert len(r.data) < 50_000
            with pytest.raises(Image.DecompressionBombError):
                Image.open(data)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Image.MAX_IMAGE_PIXELS, old = None, Image.MAX_IMAGE_PIXELS
                try:
                    assert Image.open(io.BytesIO(r.data)).size[0] * Image.open(io.BytesIO(r.data)).size[1] > 1e9
                finally:
                    Image.MAX_IMAGE_PIXELS = old
        else:
            im = Image.open(data)
            im.load()
            if kind == "cmyk_jpeg":
                assert im.mode == "CMYK"
            elif kind == "png16":
                assert im.format == "PNG" and im.mode == "I;16"
            elif kind == "palette_transparency":
                assert im.mode == "P" and "transparency" in im.info
            elif kind == "animated_gif":
                assert im.format == "GIF" and im.n_frames > 1
            elif kind == "one_pixel":
                assert im.size == (1, 1)
            elif kind == "exif_rotated":
                assert im.getexif().get(0x0112, 1) != 1
                shown = np.asarray(ImageOps.exif_transpose(im).convert("L"))
                assert shown.shape == (r.height, r.width) == r.line_mask.shape
                on, off = shown[r.line_mask].mean(), shown[~r.line_mask].mean()
                assert on < 110 and off > on + 80, (on, off)
                if im.size != (r.width, r.height):  # stored sideways: the truth is not the stored frame
                    assert im.size == (r.height, r.width)
        undecodable = kind in ("truncated", "not_image", "decompression_bomb")
        assert (r.line_mask is None) == undecodable, kind
        if undecodable:
            assert r.char_area == 0.0 and r.char_bbox is None
        elif kind != "one_pixel":
            assert r.char_area > 0 and r.line_mask.shape == (r.height, r.width), kind
