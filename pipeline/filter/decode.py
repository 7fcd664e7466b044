"""One file to RGB pixels the rules and the classifier can read, whatever the file is.

Odd files are decoded, not dropped, and ``how`` says what was done to them: CMYK and 16-bit grey are
converted, a palette or alpha picture is composited over white paper (the page a transparent pixel
shows), an animated file gives its first frame, an EXIF orientation is applied (the picture as displayed).
A file that cannot give pixels raises ``Unreadable`` with a machine-readable reason.

JPEGs are decoded with libjpeg's DCT scaling (``draft``) when that still leaves ``long_side`` pixels: the
rules and the classifier look at a ``long_side`` picture, so decoding all of a 2000 px file is wasted work.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


class Unreadable(Exception):
    """The file gives no pixels; ``reason`` is machine-readable (``too_many_pixels``, ``truncated``...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def load_rgb(path: Path | str, *, long_side: int, max_pixels: int) -> tuple[np.ndarray, int, int, str]:
    """``(rgb, width, height, how)``: pixels with the long side at most ``long_side`` (area-resampled),
    the displayed size of the full file, and what conversion was applied ("" when none)."""
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
            if max(im.size) > long_side and im.mode in ("RGB", "L", "RGBA", "LA"):
                im = im.resize(_fit_size(im.size, long_side), Image.Resampling.BOX)  # area average, in C
            im = ImageOps.exif_transpose(im) if orient != 1 else im
            if orient != 1:
                notes.append(f"exif{orient}")
                if orient in (5, 6, 7, 8):
                    width, height = height, width
            rgb, how = _to_rgb(im)
    except Unreadable:
        raise
    except Image.DecompressionBombError:
        raise Unreadable("too_many_pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Unreadable("truncated" if "truncated" in str(exc) else "not_an_image") from None
    if how:
        notes.insert(0, how)
    return _fit(rgb, long_side), width, height, " ".join(notes)


def _draft_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    scale = long_side / max(width, height)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _to_rgb(im: Image.Image) -> tuple[np.ndarray, str]:
    mode = im.mode
    if mode == "RGB":
        return np.asarray(im), ""
    if mode == "L":
        return np.repeat(np.asarray(im)[:, :, None], 3, axis=2), ""
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


def _fit_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    scale = long_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _fit(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """Modes resized before conversion are already small; the rest (CMYK, 16-bit...) are resized here."""
    h, w = rgb.shape[:2]
    if max(h, w) <= long_side:
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(rgb).resize(_fit_size((w, h), long_side), Image.Resampling.BOX))


def thumbnail(rgb: np.ndarray, size: int) -> np.ndarray:
    """``size`` x ``size`` x 3 uint8: the picture area-resampled to fit, centred on white (the classifier's
    input: the whole picture, aspect kept, so a character's share of it is what the network sees)."""
    h, w = rgb.shape[:2]
    tw, th = _fit_size((w, h), size)
    small = np.asarray(Image.fromarray(rgb).resize((tw, th), Image.Resampling.BOX))
    out = np.full((size, size, 3), 255, np.uint8)
    y, x = (size - th) // 2, (size - tw) // 2
    out[y:y + th, x:x + tw] = small
    return out
