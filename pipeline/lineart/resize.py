"""The training resolution: one file becomes an RGB picture of the size the colorizer trains on.

The policy (``ResizeParams``), in order:

1. decode, refusing files over ``max_pixels`` before decoding them (a decompression bomb is a failed row);
   an animated file gives its first frame; a JPEG is decoded at a reduced scale when ``draft``;
2. EXIF orientation applied (the picture as displayed, which is what the corpus's truth is aligned with);
3. to 8-bit RGB: transparency composited on white (paper), 16-bit samples scaled rather than clipped,
   CMYK and grey converted;
4. scaled with area resampling so the long side is ``long_side`` (a smaller picture is enlarged only when
   ``upscale``; then bicubic);
5. padded (``fit: pad``, centred, ``pad_color``) or cropped (``fit: crop``, centred) so both sides are
   multiples of ``multiple``.

``Geometry`` is a pure function of the displayed size and the params, so the true line mask is brought to
the same pixels (``pipeline.lineart.truth``) without storing anything. Line art is extracted from the
scaled picture *before* step 5 and padded with white, so a pad colour never draws a line at the border.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.lineart.config import ResizeParams

REASONS = {
    "missing": "the file is not in the raw store",
    "read_error": "the file is there but could not be read",
    "not_image": "no image format recognised",
    "too_many_pixels": "width x height above max_pixels (a decompression bomb)",
    "truncated": "the file ends before the picture does",
    "decode_error": "the decoder failed on the data",
}


class Unreadable(Exception):
    """A file that cannot become a training picture; ``args[0]`` is a key of ``REASONS``."""


@dataclass(frozen=True)
class Geometry:
    """Where a displayed ``width`` x ``height`` picture lands in the output."""

    width: int  # the displayed source size
    height: int
    scaled_w: int  # after scaling
    scaled_h: int
    out_w: int  # after padding or cropping: multiples of ResizeParams.multiple
    out_h: int
    x0: int  # the scaled picture's top-left corner in the output (negative where cropped)
    y0: int

    @property
    def box(self) -> tuple[slice, slice]:
        """The output's (rows, columns) that hold the scaled picture: the padding cut off (all of it where
        cropped). What the evaluate stage measures and the colorize command scales back to the file's size."""
        return (slice(max(0, self.y0), min(self.out_h, self.y0 + self.scaled_h)),
                slice(max(0, self.x0), min(self.out_w, self.x0 + self.scaled_w)))


def geometry(width: int, height: int, p: ResizeParams) -> Geometry:
    scale = p.long_side / max(width, height)
    if not p.upscale:
        scale = min(scale, 1.0)
    sw, sh = max(1, round(width * scale)), max(1, round(height * scale))

    def fit(n: int) -> int:
        if p.fit == "crop" and n >= p.multiple:
            return n // p.multiple * p.multiple
        return math.ceil(n / p.multiple) * p.multiple

    ow, oh = fit(sw), fit(sh)
    return Geometry(width, height, sw, sh, ow, oh, (ow - sw) // 2, (oh - sh) // 2)


def place(a: np.ndarray, g: Geometry, fill) -> np.ndarray:
    """``a`` (scaled_h x scaled_w [x C]) padded with ``fill`` and/or cropped to the output, centred."""
    out = np.empty((g.out_h, g.out_w) + a.shape[2:], a.dtype)
    out[...] = fill
    sx, sy = max(0, -g.x0), max(0, -g.y0)  # what is cropped off the scaled picture
    dx, dy = max(0, g.x0), max(0, g.y0)  # where it starts in the output
    w, h = min(g.scaled_w - sx, g.out_w - dx), min(g.scaled_h - sy, g.out_h - dy)
    out[dy:dy + h, dx:dx + w] = a[sy:sy + h, sx:sx + w]
    return out


def to_rgb(img: Image.Image) -> np.ndarray:
    """HxWx3 uint8: alpha over white, 16-bit and float samples scaled to 8 bits, CMYK and grey converted."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        grey = np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if "transparency" in img.info or img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return np.asarray(img.convert("RGB"))


def _open(path: Path | str, max_pixels: int) -> Image.Image:
    """The file opened (header only), its size checked before anything is decoded."""
    try:
        img = Image.open(path)
    except FileNotFoundError:
        raise Unreadable("missing") from None
    except UnidentifiedImageError:
        raise Unreadable("not_image") from None
    except Image.DecompressionBombError:
        raise Unreadable("too_many_pixels") from None
    except OSError:
        raise Unreadable("read_error") from None
    except (SyntaxError, ValueError):
        raise Unreadable("decode_error") from None
    if img.width * img.height > max_pixels:
        raise Unreadable("too_many_pixels")
    return img


def _load(img: Image.Image, orientation: int) -> Image.Image:
    """Decode ``img`` (its first frame) and turn it as displayed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
            return ImageOps.exif_transpose(img) if orientation != 1 else img
    except OSError as e:
        raise Unreadable("truncated" if "truncated" in str(e) or "broken data" in str(e) else "decode_error") \
            from None
    except (SyntaxError, ValueError, MemoryError, Image.DecompressionBombError):
        raise Unreadable("decode_error") from None


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block is no orientation, not a lost picture
        return 1


def scale(rgb: np.ndarray, g: Geometry) -> np.ndarray:
    """The decoded picture at ``g``'s scaled size: area resampling down, bicubic up."""
    if (g.scaled_w, g.scaled_h) == (rgb.shape[1], rgb.shape[0]):
        return rgb
    enlarge = g.scaled_w > rgb.shape[1] or g.scaled_h > rgb.shape[0]
    return cv2.resize(rgb, (g.scaled_w, g.scaled_h), interpolation=cv2.INTER_CUBIC if enlarge else cv2.INTER_AREA)


def load_scaled(path: Path | str, p: ResizeParams, max_pixels: int) -> tuple[np.ndarray, Geometry]:
    """One file's RGB picture at the scaled size (not yet padded) and its ``Geometry``.

    With ``p.draft`` a JPEG is decoded by libjpeg at 1/2, 1/4 or 1/8 scale straight from its DCT
    coefficients, the smallest that still leaves twice the scaled size, and then area-resampled: several
    times faster than a full decode, and the geometry stays that of the full picture.
    """
    img = _open(path, max_pixels)
    orientation = _orientation(img)
    turned = orientation in (5, 6, 7, 8)
    w, h = img.size
    g = geometry(h, w, p) if turned else geometry(w, h, p)
    if p.draft and img.format == "JPEG":
        want = (2 * g.scaled_h, 2 * g.scaled_w) if turned else (2 * g.scaled_w, 2 * g.scaled_h)
        img.draft(None, want)
    return scale(to_rgb(_load(img, orientation)), g), g
