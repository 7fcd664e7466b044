"""Extraction on the shared sharded map: every kept file becomes one colour picture and its line pictures.

Files (one per md5: posts sharing a file share its pair) are the items of ``pipeline.shards``; a shard's
name digests its files, ``LINEART_VERSION`` and every setting that decides the pictures, so a killed run
resumes where it was and a changed setting never reuses a stale picture. Pictures go to a content-addressed
store (``images/<md5[:2]>/<md5>.png``, named by the md5 of the PNG's bytes, written atomically): PNG with
fixed encoder settings and no metadata, so the same params give byte-identical files.

The store is the stage's persistent output: after a run, ``sync_store`` re-makes any picture a finished
shard names but the store lost, and removes pictures no row names any more.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from pipeline.lineart.config import LineartConfig
from pipeline.lineart.methods import PAPER, extract
from pipeline.lineart.resize import Unreadable, load_scaled, place
from pipeline.manifest import FILTER, LINEART, LINEART_FILES
from pipeline.shards import ShardedMap, run_sharded
from pipeline.store import atomic_path, image_relpath

logger = logging.getLogger("linecolor.lineart")
LINEART_VERSION = 1  # bump when the pictures change for the same settings: it renames every shard
PNG_LEVEL = 1  # zlib level of every stored PNG: half the time of 6 for 8% more bytes (part of LINEART_VERSION)
DECIDING = ("max_pixels", "resize", "channel", "methods", "variants")  # the settings a shard's name digests


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an HxW (L) or HxWx3 (RGB) uint8 array: fixed settings, no metadata, deterministic."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG", compress_level=PNG_LEVEL)
    return buf.getvalue()


def store_png(out_dir: Path, pixels: np.ndarray) -> str:
    """Write ``pixels`` into the store under the md5 of its PNG bytes (once); return its relative path."""
    data = encode_png(pixels)
    rel = image_relpath(hashlib.md5(data).hexdigest(), "png")
    dest = out_dir / rel
    if not dest.exists():
        with atomic_path(dest) as tmp:
            tmp.write_bytes(data)
    return rel


def make_pair(rgb: np.ndarray, g, cfg: LineartConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    """The padded colour picture and every variant's line picture (white padding) of one scaled picture."""
    color = place(rgb, g, np.array(cfg.resize.pad_color, np.uint8))
    lines = [place(a, g, PAPER) for a in extract(rgb, cfg.variants, cfg.methods, cfg.channel)]
    return color, lines


def file_row(item: tuple[str, str], raw_dir: str, out_dir: str, cfg: LineartConfig) -> dict:
    """The LINEART_FILES row of one ``(md5, path relative to raw_dir)``, its pictures written."""
    md5, rel = item
    try:
        rgb, g = load_scaled(Path(raw_dir) / rel, cfg.resize, cfg.max_pixels)
    except Unreadable as e:
        return error_row(item, e.args[0])
    color, lines = make_pair(rgb, g, cfg)
    out = Path(out_dir)
    return {"md5": md5, "path": rel, "status": "ok", "reason": "", "source_width": g.width,
            "source_height": g.height, "width": g.out_w, "height": g.out_h, "color": store_png(out, color),
            "lines": [store_png(out, a) for a in lines]}


def error_row(item: tuple[str, str], reason: str) -> dict:
    md5, rel = item
    return {"md5": md5, "path": rel, "status": "failed", "reason": reason, "source_width": 0,
            "source_height": 0, "width": 0, "height": 0, "color": None, "lines": []}


def settings(cfg: LineartConfig) -> dict:
    full = asdict(cfg)
    return {k: full[k] for k in DECIDING}


def extract_files(files: list[tuple[str, str]], raw_dir: Path | str, out_dir: Path | str,
                  shard_dir: Path | str, cfg: LineartConfig, *, workers: int = 1,
                  progress: bool = True) -> pd.DataFrame:
    """LINEART_FILES rows (md5 order) of ``(md5, path)`` files, made (or resumed) on the sharded map."""
    fn = partial(file_row, raw_dir=str(raw_dir), out_dir=str(out_dir), cfg=cfg)
    spec = ShardedMap(fn=fn, error_row=error_row, manifest=LINEART_FILES, version=f"lineart-{LINEART_VERSION}",
                      settings=settings(cfg), desc="lineart: extracting")
    rows = run_sharded(spec, files, shard_dir, shard_size=cfg.shard_size, workers=workers, progress=progress)
    return sync_store(rows, out_dir, fn)


def _named(row) -> list[str]:
    return [row["color"], *row["lines"]] if row["status"] == "ok" else []


def sync_store(rows: pd.DataFrame, out_dir: Path | str, fn) -> pd.DataFrame:
    """Re-make (with ``fn``) pictures the rows name but the store lacks; remove pictures no row names."""
    out_dir = Path(out_dir)
    records = rows.to_dict("records")
    lost = [i for i, r in enumerate(records) if not all((out_dir / p).exists() for p in _named(r))]
    if lost:
        logger.warning("lineart: %d finished files lost pictures from the store; making them again", len(lost))
        for i in lost:
            records[i] = fn((records[i]["md5"], records[i]["path"]))
        rows = pd.DataFrame(records, columns=rows.columns)
    keep = {p for r in records for p in _named(r)}
    store = out_dir / "images"
    for path in sorted(store.glob("*/*.png")) if store.exists() else ():
        if path.relative_to(out_dir).as_posix() not in keep:
            path.unlink()
    return rows


def kept_files(decisions: pd.DataFrame) -> list[tuple[str, str]]:
    """The distinct ``(md5, path)`` files of the filter's kept rows."""
    kept = decisions[decisions["keep"].fillna(False).astype(bool) & decisions["path"].notna()]
    return sorted(set(zip(kept["md5"], kept["path"], strict=True)))


def _nth(paths, i: int) -> str | None:
    return paths[i] if isinstance(paths, list | np.ndarray) and len(paths) > i else None


def pairs(decisions: pd.DataFrame, files: pd.DataFrame, cfg: LineartConfig) -> pd.DataFrame:
    """LINEART rows: one per (kept post, variant); a kept post without a file is failed (``missing``)."""
    kept = decisions[decisions["keep"].fillna(False).astype(bool)][["id", "md5", "path"]]
    m = kept.merge(files.drop(columns="path").drop_duplicates("md5"), on="md5", how="left")
    found = m["path"].notna() & m["status"].notna()
    ok = found & (m["status"] == "ok")
    frames = []
    for i, v in enumerate(cfg.variants):
        frames.append(pd.DataFrame({
            "id": m["id"], "md5": m["md5"], "variant": v.name, "method": v.method,
            "status": np.where(ok, "ok", "failed"), "reason": np.where(found, m["reason"], "missing"),
            "color": m["color"].where(ok, None), "lines": m["lines"].map(partial(_nth, i=i)).where(ok, None),
            **{c: m[c].where(found, 0).fillna(0).astype("int64")
               for c in ("width", "height", "source_width", "source_height")},
        }))
    return pd.concat(frames, ignore_index=True)[LINEART.names]  # variants: at least one (LineartConfig)


def lineart(decisions: pd.DataFrame, raw_dir: Path | str, out_dir: Path | str, shard_dir: Path | str,
            cfg: LineartConfig, *, workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """The pairs (LINEART rows) of the filter's kept posts, pictures written under ``out_dir``."""
    missing = [c for c in ("id", "md5", "path", "keep") if c not in decisions.columns]
    if missing:
        raise ValueError(f"not a {FILTER.file} frame: missing columns {missing}")
    files = extract_files(kept_files(decisions), raw_dir, out_dir, shard_dir, cfg, workers=workers,
                          progress=progress)
    return pairs(decisions, files, cfg)
