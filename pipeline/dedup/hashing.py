"""Encoding: one file's bytes become an exact hash and perceptual hashes, decoding only what they need.

Perceptual hashes (imagehash's pHash and dHash definitions, 64 bits each) look at a 32x32 or 9x8 grey picture,
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
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline import margins
from pipeline.dedup import windows
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


HASH_VERSION = 6  # bump when the normalisation or hashes change: it invalidates saved shards
NORM_SIZE = 128  # the normalised picture: trimmed here (``pipeline.margins``), and box-averaged to HASH_SIZE for the hashes
HASH_SIZE = 64
# Reduced JPEG decodes keep at least two source pixels for each normalised one. Over the 607 duplicate
# pairs of the first 4,000 sample posts, 128 keeps every pair within 8 pHash bits where 256 lets crops
# reach 10 (draft and full decodes then differ by 6 bits at most either way), and takes ~10% less time.
DRAFT_MIN = 2 * HASH_SIZE
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
    phash_mirror: int = 0  # pHash and dHash of the picture mirrored left to right
    dhash_mirror: int = 0
    windows: bytes = b""  # windows.N_CODES big-endian 64-bit codes: whole picture, then windows.WINDOWS
    align_thumb: bytes = b""  # windows.ALIGN^2 greyscale bytes for aligning a crop with its original
    trim_phash: int = 0  # pHash, dHash and thumbnail of the content once uniform margins are trimmed (``pipeline.margins``)
    trim_dhash: int = 0
    trim_thumb: bytes = b""
    trim_aspect: float = 0.0  # the content's width / height in displayed pixels
    trimmed: bool = False  # whether there were margins to trim (else the trimmed codes are the codes)


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
    if img.mode == "L" and img.size == (NORM_SIZE, NORM_SIZE):
        return img  # a PNG that ``_normalised_png`` already brought here
    return box(_to_grey(img), NORM_SIZE)


def box(grey: Image.Image, size: int) -> Image.Image:
    """A greyscale picture box-averaged to ``size`` square."""
    w, h = grey.size
    return Image.frombytes("L", (size, size), _ext().from_grey(grey.tobytes(), w, h, size, size))


@dataclass(frozen=True)
class Codes:
    """Everything hashed from one normalised picture."""

    phash: int
    dhash: int
    thumb: bytes
    phash_mirror: int
    dhash_mirror: int
    windows: bytes
    align_thumb: bytes
    trim_phash: int
    trim_dhash: int
    trim_thumb: bytes
    trim_box: tuple[int, int, int, int]  # the content box in the NORM_SIZE picture


_DCT8 = 2 * np.cos(np.pi * np.arange(8)[:, None] * (2 * np.arange(32)[None, :] + 1) / 64)  # DCT-II, 8 lowest
_MIRROR = (-1.0) ** np.arange(8)  # a left-right mirror flips the sign of the odd horizontal frequencies


@functools.lru_cache(maxsize=512)
def _projections(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Matrices that take ``n`` samples of a side, area-resampled to ``HASH_SIZE``, to the 8 lowest DCT
    frequencies of the picture at 32 (pHash) and to ``THUMB_SIZE`` samples (the thumbnail). Kept: a side's length repeats (64, and the content boxes' lengths)."""
    to_hash = windows.area_matrix(0, 1, HASH_SIZE, n)
    return (_DCT8 @ windows.area_matrix(0, 1, 32, HASH_SIZE) @ to_hash,
            windows.area_matrix(0, 1, THUMB_SIZE, HASH_SIZE) @ to_hash)


def _median(x: np.ndarray) -> float:
    """The median of an even number of values (a partition, not a sort: ``np.median`` costs 5x more here)."""
    flat = x.ravel()
    half = len(flat) // 2
    part = np.partition(flat, (half - 1, half))
    return 0.5 * (part[half - 1] + part[half])


def _code(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.ravel()).tobytes(), "big")


def _hashes(p: np.ndarray) -> tuple[int, int, int, int, bytes]:
    """pHash and dHash of a grey picture (float, any size, taken at ``HASH_SIZE`` square), those of its
    mirror image, and its ``THUMB_SIZE`` thumbnail.

    imagehash's definitions (pHash: the signs of the 8x8 lowest DCT-II frequencies of the picture at 32x32
    against their median; dHash: left-right differences of the picture at 9x8 (Pillow's Lanczos, as
    imagehash)); the pHash with area resampling folded into small matrix products in place of a resize and
    scipy's DCT: a tenth of the time, and the mirror image's codes come from the same coefficients.
    """
    rows, cols = _projections(p.shape[0]), _projections(p.shape[1])
    c = rows[0] @ p @ cols[0].T
    cm = c * _MIRROR[None, :]
    # dHash compares neighbours of 9 samples: Lanczos (imagehash's resize) is smoother there than area
    # resampling, which lets re-encoding noise flip a quarter more bits (measured on mirrored copies)
    across = np.clip(np.rint(p @ windows.lanczos_matrix(9, p.shape[1]).T), 0, 255)
    small = np.clip(np.rint(windows.lanczos_matrix(8, p.shape[0]) @ across), 0, 255)
    flip = small[:, ::-1]
    thumb = np.clip(np.rint(rows[1] @ p @ cols[1].T), 0, 255).astype(np.uint8).tobytes()
    return (_code(c > _median(c)), _code(small[:, 1:] > small[:, :-1]), _code(cm > _median(cm)),
            _code(flip[:, 1:] > flip[:, :-1]), thumb)


def _trimmed(big: Image.Image, norm: np.ndarray) -> tuple[tuple, tuple[int, int, int, int]] | None:
    """``_hashes`` of the content inside the uniform margins of ``norm`` (the ``HASH_SIZE`` picture: found
    there, 4x cheaper than at ``NORM_SIZE``), taken from ``big`` (``NORM_SIZE``) for detail, and that box in
    ``NORM_SIZE`` pixels; None when nothing is trimmed. (At ``NORM_SIZE`` the box finds 3 more of 39
    bordered copies of a 3,000-post corpus, for 0.6 ms more a file: hashing would fall under 5x imagededup.)"""
    x0, y0, x1, y1 = (2 * v for v in margins.content_box(norm))
    if (x0, y0, x1, y1) == (0, 0, NORM_SIZE, NORM_SIZE):
        return None
    # one more pixel off each peeled side: the margin's edge falls inside a pixel of the reduced picture,
    # and that blend of margin and content would stay in the content
    x0, y0 = x0 + (x0 > 0), y0 + (y0 > 0)
    x1, y1 = x1 - (x1 < NORM_SIZE), y1 - (y1 < NORM_SIZE)
    return _hashes(np.asarray(big, np.float64)[y0:y1, x0:x1]), (x0, y0, x1, y1)


def hash_normalised(big: Image.Image) -> Codes:
    """From the ``NORM_SIZE`` normalised picture: pHash and dHash (64 bits each, as unsigned ints) of the
    picture and of its mirror image, the small thumbnail, the window codes and the alignment thumbnail
    (``windows``), all from its ``HASH_SIZE`` reduction; and the trimmed content's hashes."""
    norm = box(big, HASH_SIZE)
    arr = np.asarray(norm)
    whole = _hashes(arr.astype(np.float64))
    (tp, td, _, _, tt), content = _trimmed(big, arr) or (whole, (0, 0, NORM_SIZE, NORM_SIZE))
    p, d, pm, dm, thumb = whole
    return Codes(p, d, thumb, pm, dm, windows.window_codes(arr).astype(">u8").tobytes(),
                 box(norm, windows.ALIGN).tobytes(), tp, td, tt, content)


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
        c = hash_normalised(normalise(img))
    except Unreadable as e:
        return HashResult(md5, "unreadable", e.args[0], 0, 0, "", False, 0, 0, 0, b"")
    lossless = fmt in LOSSLESS_FORMATS or (fmt == "WEBP" and bool(img.info.get("lossless")))
    x0, y0, x1, y1 = c.trim_box
    aspect = (x1 - x0) * w / ((y1 - y0) * h)
    return HashResult(md5, "ok", "", w, h, fmt, lossless, frames, c.phash, c.dhash, c.thumb, c.phash_mirror,
                      c.dhash_mirror, c.windows, c.align_thumb, c.trim_phash, c.trim_dhash, c.trim_thumb, aspect,
                      c.trim_box != (0, 0, NORM_SIZE, NORM_SIZE))


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

    Pillow loads its plugins on the first open and numpy its matrix routines on the first product:
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


CORNER = THUMB_SIZE // 3  # the corner block a watermark or signature may cover: a third of each side


def corner_tolerant_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``thumb_correlation``, or the best of it with one ``CORNER`` square corner block left out: a text or
    logo stamped in a corner (up to ~8 % of the height, a third of the width) lowers the whole thumbnails'
    correlation to 0.86-0.96, under any threshold that keeps different small figures apart, while the rest
    of the picture is the same drawing."""
    best = thumb_correlation(a, b)
    if not len(a):
        return best
    grid = np.ones((THUMB_SIZE, THUMB_SIZE), bool)
    for ys in (slice(0, CORNER), slice(THUMB_SIZE - CORNER, None)):
        for xs in (slice(0, CORNER), slice(THUMB_SIZE - CORNER, None)):
            keep = grid.copy()
            keep[ys, xs] = False
            best = np.maximum(best, thumb_correlation(a[:, keep.ravel()], b[:, keep.ravel()]))
    return best
