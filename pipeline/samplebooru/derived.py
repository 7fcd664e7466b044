"""The sample booru's derived images: the JPEG samples and thumbnails the site makes from each upload.

They are made lazily from the corpus file's bytes, the way the real site would have made them once on
upload, and kept in a byte-bounded LRU cache: a crawl asks for each one at most a few times, and
rendering them all up front would cost more than the crawl. A file the site could not have decoded
(truncated, not an image, a header that lies about its size, a decompression bomb) has no sample or
thumbnail; the cache remembers that as ``None`` so the 404 stays cheap.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

from PIL import Image, ImageOps

from pipeline.samplebooru.corpus import Post

SAMPLE_QUALITY, THUMB_QUALITY = 85, 80
DERIVED_CACHE_BYTES = 128 * 2**20
MAX_DECODE_PIXELS = 50_000_000


def to_rgb(im: Image.Image) -> Image.Image:
    """``im`` as RGB for JPEG, 16-bit scaled to 8 and transparency flattened on white (as the site does)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")


def make_derived(post: Post, kind: str, file_bytes: Callable[[int], bytes]) -> bytes | None:
    """The JPEG ``kind`` ("sample" or "thumbnail") of ``post``, made from ``file_bytes(post.id)``.

    None for any file that fails to decode: a broken upload is a 404 on the site, never an error page.
    """
    try:
        im = Image.open(io.BytesIO(file_bytes(post.id)))
        w, h = im.size
        if w * h > MAX_DECODE_PIXELS or min(w, h) < 2 or (w, h) not in ((post.width, post.height),
                                                                      (post.height, post.width)):
            return None  # decompression bomb, 1x1 or a header that lies: the site made no sample
        if kind == "sample":
            target = post.sample_size
        else:
            target = post.preview_size
        if im.format == "JPEG":  # decode at reduced size: a large JPEG is many times cheaper this way
            im.draft("RGB", (target[0] * 2, target[1] * 2))
        im.load()
        im = ImageOps.exif_transpose(im) or im
        if im.size[0] != im.size[1] and (im.size[0] > im.size[1]) != (post.width > post.height):
            target = target[::-1]
        rgb = to_rgb(im).resize(target, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=SAMPLE_QUALITY if kind == "sample" else THUMB_QUALITY)
        return buf.getvalue()
    except Exception:  # truncated, not an image, unsupported mode...: no sample/thumbnail
        return None


class DerivedCache:
    """Samples and thumbnails by ``(post id, kind)``, made once each and kept within ``budget`` bytes.

    Concurrent requests for the same image wait on one per-key lock, so a burst of a crawler's
    connections asking for one thumbnail renders it once, while different images render in parallel.
    """

    def __init__(self, file_bytes: Callable[[int], bytes], budget: int = DERIVED_CACHE_BYTES):
        self._file_bytes = file_bytes
        self._cache: OrderedDict[tuple[int, str], bytes | None] = OrderedDict()
        self._bytes, self._budget = 0, budget
        self._lock = threading.Lock()
        self._gen_locks: dict[tuple[int, str], threading.Lock] = {}

    def get(self, post: Post, kind: str) -> bytes | None:
        """The JPEG sample or thumbnail of ``post`` (None when the file cannot be decoded). LRU cached."""
        key = (post.id, kind)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            lock = self._gen_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            data = make_derived(post, kind, self._file_bytes)
            with self._lock:
                self._cache[key] = data
                self._bytes += len(data or b"")
                while self._bytes > self._budget and len(self._cache) > 1:
                    _, old = self._cache.popitem(last=False)
                    self._bytes -= len(old or b"")
                self._gen_locks.pop(key, None)
        return data
