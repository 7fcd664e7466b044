"""One file to RGB pixels the rules and the classifier can read, whatever the file is.

Odd files are decoded, not dropped, and ``how`` says what was done to them: CMYK and 16-bit grey are
converted, a palette or alpha picture is composited over white paper (the page a transparent pixel
shows), an animated file gives its first frame, an EXIF orientation is applied (the picture as displayed).
A file that cannot give pixels raises ``Unreadable`` with a machine-readable reason.

JPEGs are decoded with libjpeg's DCT scaling (``draft``) when that still leaves ``long_side`` pixels, then
reduced by an integer factor: the rules and the classifier look at a picture of about ``long_side``
pixels, so decoding and resampling all of a 2000 px file exactly would be wasted work.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pyarrow as pa
from PIL import Image, ImageOps


class Unreadable(Exception):
    """The file gives no pixels; ``reason`` is machine-readable (``too_many_pixels``, ``truncated``...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Decoded(NamedTuple):
    rgb: np.ndarray  # long side from long_side to under twice that (the whole picture if it is smaller)
    decoded: Image.Image  # the picture as decoded (JPEG: DCT-scaled), before the integer reduction
    width: int  # the full file as displayed (EXIF orientation applied)
    height: int
    how: str  # what was done to read it ("" when nothing)


def load_rgb(path: Path | str, *, long_side: int, max_pixels: int) -> Decoded:
    """The picture as RGB: DCT scaling where the file allows, then an integer box reduction (no exact-size
    resample, which would cost more than the decode itself)."""
    notes = []
    try:
        with Image.open(path) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise Unreadable("too_many_pixels")
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                notes.append(f"frame1of{frames}")
            orient = im.getexif().get(0x0112, 1)
            if im.format == "JPEG" and im.mode in ("RGB", "L", "CMYK"):
                im.draft(im.mode, _draft_size(width, height, long_side))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im.load()
            im = ImageOps.exif_transpose(im) if orient != 1 else im
            if orient != 1:
                notes.append(f"exif{orient}")
                if orient in (5, 6, 7, 8):
                    width, height = height, width
            decoded, factor = im, max(im.size) // long_side
            if factor >= 2 and im.mode in ("RGB", "L", "RGBA", "LA"):
                im = im.reduce(factor)  # an integer box average: 6x cheaper than an exact-size resample
            rgb, how = to_rgb(im)
    except Unreadable:
        raise
    except Image.DecompressionBombError:
        raise Unreadable("too_many_pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Unreadable("truncated" if "truncated" in str(exc) else "not_an_image") from None
    if how:
        notes.insert(0, how)
    return Decoded(_fit(rgb, long_side), decoded, width, height, " ".join(notes))


def file_grey(path: Path | str, got: Decoded) -> np.ndarray:
    """The picture's grey at the file's own size, as displayed (``filter.encode.fine_ink``), from what
    ``load_rgb`` gave: its pixels when they are that size (a file under twice ``long_side``, nothing more to
    convert), else its decode before the reduction when that is (a large PNG), else the file decoded again
    for its luminance alone (a DCT-scaled JPEG: libjpeg leaves the colour out, 2.1 ms against 3.5 ms for
    all of it). A file that decoded once and fails now gives the decode's grey, at its size."""
    width, height, decoded = got.width, got.height, got.decoded
    if got.rgb.shape[:2] == (height, width):
        return cv2.cvtColor(got.rgb, cv2.COLOR_RGB2GRAY)
    if decoded.size != (width, height):
        try:
            with Image.open(path) as im:
                orient = im.getexif().get(0x0112, 1)
                if im.mode in ("RGB", "L"):
                    im.draft("L", im.size)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    im.load()
                im = ImageOps.exif_transpose(im) if orient != 1 else im
                if im.size == (width, height):
                    decoded = im.copy()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            pass
    if decoded.mode == "L":
        return _pixels(decoded)
    return cv2.cvtColor(to_rgb(decoded)[0], cv2.COLOR_RGB2GRAY)


def _draft_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    scale = long_side / max(width, height)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _pixels(im: Image.Image) -> np.ndarray:
    """``np.asarray(im)`` of an RGB or L image, four times cheaper: Pillow's Arrow export hands over its
    buffer (RGB as 4 bytes a pixel) without the row-by-row copy ``asarray`` makes, and one OpenCV pass
    drops the padding byte (0.52 -> 0.12 ms a picture at 512-1023 px: a tenth of what encoding adds to
    the decode, the filter stage's 2x bound). The same bytes either way; older Pillows, or an image in
    several blocks, take ``asarray``."""
    w, h = im.size
    try:
        flat = pa.array(im)
        if im.mode == "L":
            return flat.to_numpy(zero_copy_only=True).reshape(h, w)
        return cv2.cvtColor(flat.values.to_numpy(zero_copy_only=True).reshape(h, w, 4), cv2.COLOR_RGBA2RGB)
    except (AttributeError, TypeError, ValueError, pa.ArrowException):
        return np.asarray(im)


def to_rgb(im: Image.Image) -> tuple[np.ndarray, str]:
    """HxWx3 uint8 of any mode, and what was done ("" for RGB and L)."""
    mode = im.mode
    if mode == "RGB":
        return _pixels(im), ""
    if mode == "L":
        return cv2.cvtColor(_pixels(im), cv2.COLOR_GRAY2RGB), ""
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        grey = np.clip(np.round(a * 255.0 / top), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2), f"{mode.lower()}->rgb"
    if mode == "CMYK":
        return np.asarray(im.convert("RGB")), "cmyk->rgb"
    rgba = im.convert("RGBA")  # P, PA, LA, RGBA, 1...: transparency becomes white paper
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(paper, rgba).convert("RGB")), f"{mode.lower()}->rgb_over_white"


def fit_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) ``size`` scaled to a long side of ``long_side``, each at least 1 px."""
    m = max(size)
    return max(1, round(size[0] * long_side / m)), max(1, round(size[1] * long_side / m))


def _fit(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """What PIL could not reduce before conversion (CMYK, 16-bit, palette...) is reduced here."""
    factor = max(rgb.shape[:2]) // long_side
    if factor < 2:
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(rgb).reduce(factor))


def shrink(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` resampled to ``size`` (width, height): bilinear to twice that, then an exact 2 x 2 box average.
    OpenCV's area resampling at a ratio that is not a whole number costs seven times more, and keeps a small
    figure's colours no better (a drawn figure of 0.3% at 256 px keeps 87% of its colour pixels, against
    84%; a box reduction followed by an area resampling: 68%)."""
    return halve(doubled(img, size), size)


def doubled(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``shrink``'s first step: ``img`` bilinear at twice ``size``."""
    return cv2.resize(img, (2 * size[0], 2 * size[1]), interpolation=cv2.INTER_LINEAR)


def halve(double: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``shrink``'s second step: ``double`` (twice ``size``) to ``size`` by an exact 2 x 2 box average."""
    return cv2.resize(double, size, interpolation=cv2.INTER_AREA)


def thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """``size`` x ``size`` x 3 uint8: the picture area-resampled to fit, centred on white (the classifier's
    input: the whole picture, aspect kept, so a character's share of it is what the network sees)."""
    h, w = rgb.shape[:2]
    tw, th = fit_size((w, h), size)
    small = shrink(rgb, (tw, th))
    out = np.full((size, size, 3), 255, np.uint8)
    y, x = (size - th) // 2, (size - tw) // 2
    out[y:y + th, x:x + tw] = small
    return out
