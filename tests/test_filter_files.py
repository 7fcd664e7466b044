"""Odd and broken files: each is decoded the way a viewer shows it, or gets a reason, never a crash."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from pipeline.config import load_keys
from pipeline.filter.config import FilterConfig
from pipeline.filter.decide import rule_reasons
from pipeline.filter.decode import file_grey, load_rgb, to_rgb
from pipeline.filter.encode import encode_file
from tests.conftest import REPO


def _drawing(corpus) -> np.ndarray:
    """A colour illustration of the corpus (a plain one, without a broken file)."""
    for p in corpus.posts:
        t = corpus.truth(p.id)
        if t.tone == "color" and t.layout == "illustration" and t.broken is None and t.char_area > 0.05:
            return np.asarray(Image.open(corpus.file_path(p.id)).convert("RGB"))
    raise AssertionError("no colour illustration in the corpus")


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _files(rgb: np.ndarray) -> dict[str, bytes]:
    im = Image.fromarray(rgb)
    grey16 = Image.fromarray(np.asarray(im.convert("L")).astype("<u2") * 257)
    pal = im.quantize(colors=64, method=Image.Quantize.FASTOCTREE)
    white = int(np.argmax(np.array(pal.getpalette()[:192]).reshape(-1, 3).sum(axis=1)))
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = _save(im, "JPEG", quality=90)
    blink = Image.fromarray(255 - rgb // 3)
    return {
        "cmyk": _save(im.convert("CMYK"), "JPEG", quality=90),
        "png16": _save(grey16, "PNG"),
        "palette_alpha": _save(pal, "PNG", transparency=white),
        "animated": _save(im.quantize(128), "GIF", save_all=True, append_images=[blink.quantize(128)], duration=100),
        "exif_rotated": _save(im.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=90, exif=exif.tobytes()),
        "truncated": jpeg[: len(jpeg) // 2],
        "not_image": b"<html><body>503 Service Unavailable</body></html>",
        "tiny": _save(Image.new("RGB", (1, 1), "white"), "PNG"),
        "huge": _bomb(),
        "wide": _save(im.resize((1600, 400)), "PNG"),
    }


def _bomb() -> bytes:
    """A small JPEG whose header claims 40000 x 40000 pixels."""
    data = bytearray(_save(Image.new("RGB", (16, 16), "white"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = (40000).to_bytes(2, "big") * 2
    return bytes(data)


@pytest.fixture(scope="module")
def judged(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    rgb = _drawing(corpus)
    params = load_keys(REPO / "params.yaml", "filter", FilterConfig)
    cfg, rules = params.encode, params.rules
    out = {}
    for name, data in _files(rgb).items():
        (root / name).write_bytes(data)
        row = encode_file((f"{hash(name) & 0xffff:032x}", name), str(root), cfg)
        out[name] = (row, rule_reasons(row, rules))
    return out, rgb.shape


@pytest.mark.parametrize("name, reasons, decoded", [
    ("cmyk", [], "cmyk->rgb"),
    ("png16", ["greyscale"], "i;16->rgb"),  # a colour drawing stored as 16-bit grey has no colour left
    ("palette_alpha", [], "p->rgb_over_white"),
    ("animated", ["animated"], "frame1of2"),
    ("exif_rotated", [], "exif6"),
    ("truncated", ["unreadable"], None),
    ("not_image", ["unreadable"], None),
    ("tiny", ["resolution"], ""),
    ("huge", ["too_many_pixels"], None),
    ("wide", ["aspect"], ""),
])
def test_every_odd_file_gets_a_decision_with_its_reason(judged, name, reasons, decoded):
    rows, _ = judged
    row, got = rows[name]
    assert got == reasons, (name, row["reason"], row.get("decoded_as"))
    if decoded is None:
        assert row["status"] == "failed" and row["reason"], name
    else:
        assert row["status"] == "ok" and decoded in row["decoded_as"], (name, row["decoded_as"])


def test_exif_rotation_is_undone_and_odd_modes_keep_their_colours(judged):
    rows, shape = judged
    exif = rows["exif_rotated"][0]
    assert (exif["width"], exif["height"]) == (shape[1], shape[0])  # displayed, not stored, size
    for name in ("cmyk", "palette_alpha", "exif_rotated"):
        assert rows[name][0]["colour"] > 0.05, name  # still a colour picture after the conversion


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_pixels_are_handed_over_as_numpy_reads_them(mode):
    """``to_rgb`` takes Pillow's buffer without its row-by-row copy: the same bytes, on a non-square picture
    whose rows are not a multiple of 4 pixels."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (53, 37, 3) if mode == "RGB" else (53, 37), dtype=np.uint8)
    got, how = to_rgb(Image.fromarray(a, mode))
    assert how == "" and got.shape == (53, 37, 3) and got.flags.c_contiguous
    assert (got == (a if mode == "RGB" else np.repeat(a[:, :, None], 3, axis=2))).all()


@pytest.mark.parametrize("name", ["exif_rotated", "cmyk", "palette_alpha", "png16"])
def test_the_fine_ink_reads_every_file_at_its_own_displayed_size(name, corpus, tmp_path):
    """``filter.encode.fine_ink`` reads the file's grey as displayed: a DCT-scaled JPEG is decoded again (its
    luminance alone), the EXIF rotation undone, odd modes converted like the colour picture."""
    data = _files(_drawing(corpus)[:700, :1100])[name]
    path = tmp_path / f"{name}.bin"
    path.write_bytes(data)
    got = load_rgb(path, long_side=256, max_pixels=10**8)
    grey = file_grey(path, got)
    with Image.open(io.BytesIO(data)) as im:
        im = ImageOps.exif_transpose(im)
        want = np.round(np.asarray(im) / 257) if name == "png16" else np.asarray(im.convert("RGB").convert("L"))
    assert got.decoded.size != (got.width, got.height) or name.startswith(("png", "palette"))  # JPEGs: DCT-scaled
    assert grey.shape == (got.height, got.width) == want.shape
    assert np.abs(grey.astype(int) - want).mean() < 2.0
