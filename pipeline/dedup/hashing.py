"""Encoding: one file's bytes become an exact hash and perceptual hashes, decoding only what they need.

Perceptual hashes (imagehash's pHash and dHash, 64 bits each) look at a 32x32 or 9x8 greyscale picture,
so a 2000-pixel JPEG need not be decoded in full: Pillow's draft mode lets libjpeg decode at 1/2, 1/4 or
1/8 scale straight from the DCT coefficients, several times faster. A reduced decode and a full decode of
the same picture are not identical pixel for pixel, so *every* file, JPEG or PNG, first goes through the
same normalisation: a greyscale picture box-averaged down to ``NORM_SIZE`` square, from a source at least
``DRAFT_MIN`` pixels on its short side. The hashes are computed on that, so a PNG and a JPEG of one drawing
hash alike (the tests measure it).

PNG has no reduced decode, and inflating and unfiltering the whole picture is most of the work. A plain
8-bit RGB or grey PNG is therefore inflated by libdeflate (the ``deflate`` package, faster than zlib) and
its scanlines go to a small C extension (``_normalise.c``) that unfilters, greys and box-averages them one
row at a time, straight to the normalised picture. The same C code normalises every other picture, so
both ways give the same bytes for the same pixels (the tests check it), whatever Pillow is installed.

Files that cannot be hashed get a machine-readable reason instead of hashes (``REASONS``), never an
exception that stops the run.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import deflate
import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.dedup.config import HashParams

NORMALISE_ABI = 2  # must equal NORMALISE_ABI in _normalise.c


def require_extension() -> None:
    """Fail now, with the one-line ImportError, rather than file by file inside a run."""
    _ext()


@functools.cache
def _ext():
    """The compiled ``_normalise``, or one line saying what to do (not a confusing import traceback).

    Loaded on first use, not on import: what only searches saved hashes (clustering, the split's leak
    check) runs where the extension was never built, such as the repo copy `dvc exp run --temp` makes.
    """
    hint = "run `make install` (it builds pipeline/dedup/_normalise.c with this machine's C compiler)"
    try:
        ext = importlib.import_module("pipeline.dedup._normalise")
    except ImportError:
        raise ImportError(f"the C extension pipeline.dedup._normalise is not built for this checkout: {hint}"
                          ) from None
    if getattr(ext, "ABI", None) != NORMALISE_ABI:
        raise ImportError(f"the C extension pipeline.dedup._normalise at {ext.__file__} is stale (ABI "
                          f"{getattr(ext, 'ABI', None)}, this code needs {NORMALISE_ABI}): {hint}")
    return ext


HASH_VERSION = 4  # bump when the normalisation or hashes change: it invalidates saved shards
NORM_SIZE = 64  # the normalised picture the hashes are computed from
# Reduced JPEG decodes keep at least two source pixels for each normalised one. Over the 607 duplicate
# pairs of the first 4,000 sample posts, 128 keeps every pair within 8 pHash bits where 256 lets crops
# reach 10 (draft and full decodes then differ by 6 bits at most either way), and takes ~10% less time.
DRAFT_MIN = 2 * NORM_SIZE
THUMB_SIZE = 12  # the greyscale thumbnail kept for the finer check (144 bytes a file)

REASONS = {
    "missing": "the file is not in the store",
    "read_error": "the file is there but could not be read (permissions, I/O error)",
    "not_image": "no image format recognised",
    "truncated": "the file ends before the picture does",
    "decode_error": "the decoder failed on the data",
    "too_many_pixels": "width x height above max_pixels (a decompression bomb)",
    "too_small": "a side shorter than min_side pixels: nothing to compare",
}


@dataclass(frozen=True)
class HashResult:
    md5: str  # exact hash: md5 of the bytes read
    status: str  # ok | unreadable
    reason: str  # "" when ok, else a key of REASONS
    width: int  # displayed size (after EXIF orientation); 0 when unknown
    height: int
    format: str  # JPEG | PNG | GIF | WEBP ... ("" when unknown)
    lossless: bool
    frames: int
    phash: int  # unsigned 64-bit, 0 when not ok
    dhash: int
    thumb: bytes  # THUMB_SIZE^2 greyscale bytes for the finer check, b"" when not ok


def _to_grey(img: Image.Image) -> Image.Image:
    """Greyscale with transparency composited over white and 16-bit samples scaled, not clipped."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "F":
        return Image.fromarray(np.clip(np.asarray(img), 0, 255).astype(np.uint8), "L")
    if img.mode == "P" or img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return img.convert("L")


def normalise(img: Image.Image) -> Image.Image:
    """The picture every hash is computed from: greyscale, ``NORM_SIZE`` square, box-averaged.

    One box filter straight from the decoded size (``_normalise.c``: each pixel the mean of its window,
    Pillow's BOX windows, rounded once). An integer ``reduce`` first would be cheaper, but its last column
    and row average only the leftover pixels and then weigh as much as a full box: up to 85 grey levels off
    at the edge, and different for a draft and a full decode of the same picture.
    """
    return box(_to_grey(img), NORM_SIZE)


def box(grey: Image.Image, size: int) -> Image.Image:
    """A greyscale picture box-averaged to ``size`` square."""
    w, h = grey.size
    return Image.frombytes("L", (size, size), _ext().from_grey(grey.tobytes(), w, h, size, size))


def hash_normalised(norm: Image.Image) -> tuple[int, int, bytes]:
    """pHash and dHash (imagehash, 8x8 = 64 bits each) as unsigned ints, and the small thumbnail."""
    p = imagehash.phash(norm, hash_size=8)
    d = imagehash.dhash(norm, hash_size=8)
    return _bits_to_int(p.hash), _bits_to_int(d.hash), box(norm, THUMB_SIZE).tobytes()


def _bits_to_int(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.ravel().astype(np.uint8)).tobytes(), "big")


def open_reduced(data: bytes, max_pixels: int, min_side: int, full: bool = False):
    """Open ``data``, checking its size before decoding, in draft mode for JPEG unless ``full``.

    Returns ``(image, format, width, height, frames)`` with the image loaded; raises ``Unreadable``. A plain
    PNG comes back already normalised (``NORM_SIZE`` square, grey): nothing more is needed of it.
    """
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise Unreadable("not_image") from None
    except Image.DecompressionBombError:
        raise Unreadable("too_many_pixels") from None
    except (OSError, SyntaxError, ValueError):
        raise Unreadable("decode_error") from None
    fmt = img.format or ""
    w, h = img.size
    if w * h > max_pixels:
        raise Unreadable("too_many_pixels")
    if min(w, h) < min_side:
        raise Unreadable("too_small")
    frames = int(getattr(img, "n_frames", 1) or 1)
    # Pillow's getexif() on a PNG decodes the whole picture to look for an eXIf chunk: skip it when the
    # chunk name appears nowhere in the bytes (then there is no orientation to honour).
    orientation = 1 if fmt == "PNG" and b"eXIf" not in data else img.getexif().get(0x0112, 1)
    if fmt == "PNG" and img.mode in ("RGB", "L") and frames == 1 and orientation == 1:
        fast = _normalised_png(data, w, h)
        if fast is not None:
            return fast, fmt, w, h, frames
    if fmt == "JPEG" and not full:
        scale = max(1, min(w, h) // DRAFT_MIN)
        img.draft("L" if img.mode in ("L", "RGB") else img.mode, (max(1, w // scale), max(1, h // scale)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img.load()
    except OSError as e:
        raise Unreadable("truncated" if "truncated" in str(e) or "broken data" in str(e) else "decode_error") \
            from None
    except (SyntaxError, ValueError, MemoryError, Image.DecompressionBombError):
        raise Unreadable("decode_error") from None
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    if orientation != 1:
        img = ImageOps.exif_transpose(img)
    return img, fmt, w, h, frames


def _normalised_png(data: bytes, w: int, h: int) -> Image.Image | None:
    """The normalised picture of an 8-bit RGB or grey, non-interlaced PNG, without decoding it in full.

    The IDAT chunks are inflated by libdeflate into exactly the expected number of bytes (its Adler-32
    check guards the data; chunk CRCs are not read), then ``_normalise.c`` unfilters, greys and
    box-averages the scanlines. PNG is lossless, so the result is what ``normalise`` gives for Pillow's
    decode of the file. Anything unexpected returns None and the file goes through Pillow, which then
    names the reason (truncated, decode_error, ...).
    """
    header, idat, pos = None, [], 8
    view = memoryview(data)
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IHDR" and length == 13 and pos + 21 <= len(data):
            header = struct.unpack_from(">IIBBBBB", data, pos + 8)
        elif kind == b"IDAT":
            idat.append(view[pos + 8:pos + 8 + length])
        elif kind == b"IEND":
            break
        pos += 12 + length
    # width, height, bit depth 8, colour type 0 (grey) or 2 (RGB), compression 0, filter method 0, no interlace
    if header is None or header[:3] != (w, h, 8) or header[3] not in (0, 2) or header[4:] != (0, 0, 0):
        return None
    channels = 1 if header[3] == 0 else 3
    try:
        raw = deflate.zlib_decompress(b"".join(idat), h * (w * channels + 1))
        pixels = _ext().from_png_scanlines(raw, w, h, channels, NORM_SIZE, NORM_SIZE)
    except (deflate.DeflateError, ValueError):
        return None
    return Image.frombytes("L", (NORM_SIZE, NORM_SIZE), pixels)


class Unreadable(Exception):
    """A file that cannot be hashed; ``args[0]`` is a key of ``REASONS``."""


LOSSLESS_FORMATS = {"PNG", "GIF", "BMP", "TIFF"}


def hash_bytes(data: bytes, params: HashParams, full: bool = False) -> HashResult:
    """Exact and perceptual hashes of one file's bytes; an unreadable file gets a reason, not an error."""
    md5 = hashlib.md5(data).hexdigest()
    try:
        img, fmt, w, h, frames = open_reduced(data, params.max_pixels, params.min_side, full)
        ph, dh, thumb = hash_normalised(normalise(img))
    except Unreadable as e:
        return HashResult(md5, "unreadable", e.args[0], 0, 0, "", False, 0, 0, 0, b"")
    lossless = fmt in LOSSLESS_FORMATS or (fmt == "WEBP" and bool(img.info.get("lossless")))
    return HashResult(md5, "ok", "", w, h, fmt, lossless, frames, ph, dh, thumb)


def hash_file(path: Path | str, params: HashParams) -> HashResult:
    """``hash_bytes`` of a file in the store (reason ``missing`` when it is not there)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return HashResult("", "unreadable", "missing", 0, 0, "", False, 0, 0, 0, b"")
    except OSError:  # one unreadable file gets a reason; it must not stop the run
        return HashResult("", "unreadable", "read_error", 0, 0, "", False, 0, 0, 0, b"")
    return hash_bytes(data, params)


_WARM_UP = HashParams(max_pixels=48 * 64, min_side=1)  # the warm-up picture only


def warm_up() -> None:
    """Hash a small JPEG and PNG once, so that worker processes forked afterwards start warm.

    imagehash imports scipy's DCT on its first pHash, and Pillow loads its plugins on the first open:
    about 0.2 s that every worker would otherwise pay again on its first file.
    """
    pic = Image.fromarray(np.add.outer(np.arange(48, dtype=np.uint8), np.arange(64, dtype=np.uint8)), "L")
    for fmt in ("JPEG", "PNG"):
        buf = io.BytesIO()
        pic.convert("RGB").save(buf, fmt)
        hash_bytes(buf.getvalue(), _WARM_UP)


def thumb_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of paired thumbnails (rows of uint8), the finer check on candidate pairs.

    A flat thumbnail (a blank picture) has no correlation to speak of: two flat ones of about the same
    grey count as 1, anything else as 0.
    """
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    am, bm = a.mean(axis=1, keepdims=True), b.mean(axis=1, keepdims=True)
    asd, bsd = a.std(axis=1), b.std(axis=1)
    flat = (asd < 1.0) | (bsd < 1.0)
    corr = ((a - am) * (b - bm)).mean(axis=1) / np.where(flat, 1.0, asd * bsd)
    same_grey = np.abs(am - bm).ravel() < 2.0
    corr = np.where(flat, np.where((asd < 1.0) & (bsd < 1.0) & same_grey, 1.0, 0.0), corr)
    return np.round(corr, 4)
