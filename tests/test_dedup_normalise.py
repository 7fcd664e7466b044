"""The dedup stage's normalised picture: PNG scanlines through the C extension against Pillow's decode.

The PNGs here are written by hand, one chosen filter type per row, so that every filter (Avg included,
which Pillow's encoder rarely picks) and both pixel widths (grey, RGB) are decoded by our C code; Pillow
decodes the same bytes as the reference.
"""

from __future__ import annotations

import importlib.util
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.dedup import DedupConfig, _normalise
from pipeline.dedup.hashing import NORM_SIZE, REASONS, _normalised_png, hash_bytes, normalise, open_reduced
from tests.conftest import repo_params

CFG = repo_params("dedup", DedupConfig)
SIGNATURE = b"\x89PNG\r\n\x1a\n"
SOURCE = Path(__file__).resolve().parents[1] / "pipeline/dedup/_normalise.c"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def scanlines(pixels: np.ndarray, filters: list[int]) -> bytes:
    """PNG scanlines of 8-bit grey (h x w) or RGB (h x w x 3) pixels, row y filtered with filters[y % n]."""
    h, w = pixels.shape[:2]
    bpp = 1 if pixels.ndim == 2 else 3
    rows = pixels.reshape(h, w * bpp).astype(np.int16)
    out = []
    for y in range(h):
        x = rows[y]
        up = rows[y - 1] if y else np.zeros_like(x)
        left = np.concatenate([np.zeros(bpp, np.int16), x[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int16), up[:-bpp]])
        kind = filters[y % len(filters)]
        if kind == 0:
            pred = np.zeros_like(x)
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = up
        elif kind == 3:
            pred = (left + up) // 2
        else:
            pa, pb, pc = np.abs(up - upleft), np.abs(left - upleft), np.abs(left + up - 2 * upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        out.append(bytes([kind]) + ((x - pred) % 256).astype(np.uint8).tobytes())
    return b"".join(out)


def png(pixels: np.ndarray, filters: list[int], raw: bytes | None = None) -> bytes:
    """A PNG file of ``pixels``; its compressed data split over two IDAT chunks, as encoders do."""
    h, w = pixels.shape[:2]
    data = zlib.compress(scanlines(pixels, filters) if raw is None else raw)
    header = struct.pack(">IIBBBBB", w, h, 8, 0 if pixels.ndim == 2 else 2, 0, 0, 0)
    half = len(data) // 2
    return (SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", data[:half]) + chunk(b"IDAT", data[half:])
            + chunk(b"IEND", b""))


def picture(h: int, w: int, channels: int, seed: int) -> np.ndarray:
    """Noise over smooth ramps: every Paeth branch is taken, and the box averages are not flat."""
    rng = np.random.default_rng(seed)
    ramp = (np.add.outer(np.arange(h), np.arange(w)) * 255 // (h + w)).astype(np.int16)
    noise = rng.integers(-40, 41, size=(h, w, channels))
    pix = np.clip(ramp[..., None] + noise, 0, 255).astype(np.uint8)
    return pix[..., 0] if channels == 1 else pix


FILTERS = {"none": [0], "sub": [1], "up": [2], "average": [3], "paeth": [4], "mixed": [0, 1, 2, 3, 4, 4, 2]}
SHAPES = [(23, 37), (133, 201), (64, 64), (1000, 65), (65, 700), (17, 3), (9, 1)]  # h, w; the last two: narrow


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("filters", list(FILTERS))
def test_png_scanlines_normalise_to_the_decoded_pictures_bytes(channels, filters):
    for k, (h, w) in enumerate(SHAPES):
        pixels = picture(h, w, channels, seed=k)
        data = png(pixels, FILTERS[filters])
        decoded = Image.open(io.BytesIO(data))
        assert np.array_equal(np.asarray(decoded), pixels), "the hand-made PNG is wrong"
        fast = _normalised_png(data, w, h)
        assert fast is not None and fast.size == (NORM_SIZE, NORM_SIZE), (h, w)
        assert np.array_equal(np.asarray(fast), np.asarray(normalise(decoded))), (h, w)
        assert open_reduced(data, 10**8, 1)[0].size == (NORM_SIZE, NORM_SIZE)  # hashing takes the fast path


def test_normalise_is_the_rounded_mean_of_each_window():
    rng = np.random.default_rng(7)
    grey = rng.integers(0, 256, size=(192, 128), dtype=np.uint8)  # windows of exactly 3 rows x 2 columns
    got = np.frombuffer(_normalise.from_grey(grey.tobytes(), 128, 192, 64, 64), np.uint8).reshape(64, 64)
    sums = grey.reshape(64, 3, 64, 2).sum(axis=(1, 3), dtype=np.int64)
    assert np.array_equal(got, (2 * sums + 6) // 12)  # the mean of 6, rounded half up
    for h, w in SHAPES + [(777, 1333)]:  # other shapes: Pillow's BOX resize rounds twice, so within a level
        img = Image.fromarray(rng.integers(0, 256, size=(h, w), dtype=np.uint8), "L")
        ours = np.asarray(normalise(img), np.int16)
        pillow = np.asarray(img.resize((NORM_SIZE, NORM_SIZE), Image.Resampling.BOX), np.int16)
        assert np.abs(ours - pillow).max() <= 1, (h, w)


def test_malformed_scanlines_go_to_pillow_which_names_the_fault():
    pixels = picture(40, 50, 3, seed=3)
    good = scanlines(pixels, [4])
    with pytest.raises(ValueError, match="filter type on row 39"):
        _normalise.from_png_scanlines(good[:-151] + b"\x07" + good[-150:], 50, 40, 3, 8, 8)
    with pytest.raises(ValueError, match="bytes of image data"):
        _normalise.from_png_scanlines(good[:-1], 50, 40, 3, 8, 8)
    with pytest.raises(ValueError, match="channel count"):
        _normalise.from_png_scanlines(good, 50, 40, 2, 8, 8)
    bad_filter = png(pixels, [4], raw=good[:151] + b"\x09" + good[152:])  # row 1's filter byte
    data = png(pixels, [4])
    cut = data[:len(data) // 2] + chunk(b"IEND", b"")  # half the image data, then a proper end
    for broken in (bad_filter, cut):
        assert _normalised_png(broken, 50, 40) is None
        result = hash_bytes(broken, CFG.hashing)
        assert result.status == "unreadable" and result.reason in REASONS


def test_the_plain_c_build_gives_the_simd_builds_bytes(tmp_path):
    """The SIMD loops (x86-64) and the plain C ones (other CPUs) must agree: build the latter here too."""
    setup = ("from setuptools import Extension, setup; "
             f"setup(name='plain', ext_modules=[Extension('_normalise', [{str(SOURCE)!r}], "
             "define_macros=[('NORMALISE_NO_SIMD', '1')], extra_compile_args=['-O1'])])")
    subprocess.run([sys.executable, "-c", setup, "build_ext", "--build-lib", str(tmp_path / "lib"),
                    "--build-temp", str(tmp_path / "tmp")], check=True, capture_output=True, cwd=tmp_path)
    built = next((tmp_path / "lib").glob("_normalise*"))
    spec = importlib.util.spec_from_file_location("_normalise", built)
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    for k, (h, w) in enumerate(SHAPES):
        for channels in (1, 3):
            pixels = picture(h, w, channels, seed=10 + k)
            raw = scanlines(pixels, FILTERS["mixed"] if k % 2 else [4, 4, 3, 1, 1, 4, 0, 2])
            args = (w, h, channels, NORM_SIZE, NORM_SIZE)
            assert plain.from_png_scanlines(raw, *args) == _normalise.from_png_scanlines(raw, *args), (h, w)


def test_box_windows_stream_for_every_size():
    """Rows stream through the windows only if they tile the axis; the C code refuses sizes where not."""
    for size in range(1, 3001):
        for out in (NORM_SIZE, 12, 9, 8):  # the normalised picture, the thumbnail, imagehash's sizes
            assert len(_normalise.from_grey(bytes(size), size, 1, out, 1)) == out
