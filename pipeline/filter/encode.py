"""Encoding: every representative file measured once (pixel statistics, a thumbnail) on the sharded map.

The classifier stage and the filter stage run the same map over the same files with the same settings, so
whichever runs first decodes and the other reads the finished shards (``data/cache/filter``). Rules and
thresholds are applied to these saved rows, never while decoding: a new threshold re-decides in seconds.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from pipeline.filter.config import EncodeParams
from pipeline.filter.decode import Unreadable, file_grey, fit_size, load_rgb, shrink, thumbnail, to_rgb
from pipeline.filter.maps import fit, ink_map, maps
from pipeline.filter.pixels import FEATURES, grey_tones, measure
from pipeline.manifest import FILTER_PIXELS
from pipeline.shards import ShardedMap, run_sharded

VERSION = "filter-pixels-13"  # bump when a row's numbers change for the same file and settings


def encode_file(item: tuple[str, str], raw_dir: str, cfg: EncodeParams) -> dict:
    md5, rel = item
    path = Path(raw_dir) / rel
    try:
        got = load_rgb(path, long_side=cfg.long_side, max_pixels=cfg.max_pixels)
    except Unreadable as exc:
        return error_row(item, exc.reason)
    rgb, decoded, width, height, how = got
    fitted, rgb = fit(rgb, cfg.palette)  # the maps' and thumbnails' source; at twice that, the rules' and ink's
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    row = {"md5": md5, "path": rel, "status": "ok", "reason": "", "width": width, "height": height,
           "frames": _frames(how), "decoded_as": how, **measure(rgb, grey),
           "thumb": thumbnail(fitted, cfg.thumb).tobytes(), "preview": preview(fitted, cfg.preview),
           "palette": None, "ink_map": None, "ink": None, "fill": None, "off_level_fill": None}
    full = file_grey(path, got) if cfg.fine_ink else None
    if row["colour"] > 0:  # the palette's maps: a grey picture (no coloured pixel at all) has no colours to read
        row["palette"], row["ink_map"] = maps(fitted, grey, cfg.ink_grey, full)
    else:
        row["ink_map"] = ink_map(grey, fitted.shape[1::-1], cfg.ink_grey, full)
    if row["colour"] <= cfg.detail_colour:
        # Only a grey picture's tones are ever read (the tone rules), and they are told apart by its fills,
        # which a small figure only shows at the resolution it was decoded at (no second decode). A colour
        # picture's are not measured (a tenth of its encoding time, in a profile of 600 files).
        if max(decoded.size) > max(rgb.shape[:2]):
            grey = np.asarray(decoded) if decoded.mode == "L" else to_rgb(decoded)[0][:, :, 1]
        row.update(grey_tones(np.ascontiguousarray(grey), cfg.screentone_levels))
    return row


def preview(rgb: np.ndarray, size: int) -> bytes:
    """The report's thumbnail (JPEG, long side ``size``), made while the pixels are at hand."""
    h, w = rgb.shape[:2]
    if max(h, w) > size:
        rgb = shrink(rgb, fit_size((w, h), size))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def _frames(how: str) -> int:
    for note in how.split():
        if note.startswith("frame1of"):
            return int(note[len("frame1of"):])
    return 1


def error_row(item: tuple[str, str], reason: str) -> dict:
    md5, rel = item
    return {"md5": md5, "path": rel, "status": "failed", "reason": reason, "width": 0, "height": 0,
            "frames": 0, "decoded_as": "", **{f: None for f in FEATURES}, "thumb": None, "preview": None,
            "palette": None, "ink_map": None}


def encode(items: list[tuple[str, str]], raw_dir: Path | str, shard_dir: Path | str, cfg: EncodeParams,
           workers: int, progress: bool = True) -> pd.DataFrame:
    """FILTER_PIXELS rows of ``items`` ((md5, path relative to ``raw_dir``)), finished shards reused."""
    settings = {k: v for k, v in asdict(cfg).items() if k != "shard_size"}
    spec = ShardedMap(fn=partial(encode_file, raw_dir=str(raw_dir), cfg=cfg), error_row=error_row,
                      manifest=FILTER_PIXELS, version=VERSION, settings=settings, desc="filter: measure")
    return run_sharded(spec, items, shard_dir, shard_size=cfg.shard_size, workers=workers, progress=progress)


def encode_representatives(images: pd.DataFrame, raw_dir: Path | str, shard_dir: Path | str, cfg: EncodeParams,
                           workers: int) -> pd.DataFrame:
    """``encode`` of dedup's decodable representatives (DEDUP rows): the pictures both stages judge."""
    reps = images[(images["status"] == "ok") & images["keep"]]
    return encode(sorted(set(zip(reps["md5"], reps["path"], strict=True))), raw_dir, shard_dir, cfg, workers)


def thumbs_of(pixels: pd.DataFrame, size: int) -> np.ndarray:
    """(N, size, size, 3) uint8 of rows that have a thumbnail (status ok), in row order."""
    data = [np.frombuffer(b, np.uint8).reshape(size, size, 3) for b in pixels["thumb"]]
    return np.stack(data) if data else np.zeros((0, size, size, 3), np.uint8)
