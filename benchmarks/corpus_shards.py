"""A stand-in for the split stage's output, built from the sample corpus's ground truth (benchmarks and tests only).

Until the split stage (#13) writes ``data/split``, training is measured on shards made here: the colour
picture is the corpus file, the line picture the corpus's true line mask drawn dark on white (what a
perfect line-art stage would give), both scaled to ``size`` px on the long side and white-padded to a
multiple of 32, as the line-art stage's training pictures are. Colour illustrations only (no comics),
one post per drawing (re-uploads dropped), split 70/20/10 by a hash of the drawing's family so that
variants stay on one side. Reading truth is allowed here because this is test data; the train stage never
reads it.

With ``--lines extracted`` the pairs are made by the line-art stage's own code instead (``lineart:`` of
params.yaml: the training resolution with centred padding, every variant's extracted lines), keyed
``<id>_<variant>`` as the split stage keys them: a stand-in for the real ``data/split`` on which the evaluate
stage can lay the corpus's part maps (they follow the same geometry).

    python -m benchmarks.corpus_shards --posts 600 --size 256 --out bench-out/split
    python -m benchmarks.corpus_shards --posts 600 --lines extracted --out bench-out/split
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pipeline.samplebooru.corpus import Corpus
from pipeline.shardio import ShardWriter

SPLITS = (("train", 0.7), ("val", 0.9), ("test", 1.0))  # cumulative fractions of the family hash


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def picture_pair(corpus: Corpus, post_id: int, size: int, multiple: int = 32) -> tuple[np.ndarray, np.ndarray] | None:
    """(line L, colour RGB) uint8 of one post at ``size`` px long side, padded to ``multiple``; None if unusable."""
    mask = corpus.line_mask(post_id)
    if mask is None:
        return None
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(corpus.file_bytes(post_id)))).convert("RGB")
    if img.size != (mask.shape[1], mask.shape[0]):
        return None
    scale = size / max(img.size)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    color = np.asarray(img.resize((w, h), Image.Resampling.LANCZOS))
    ink = Image.fromarray((mask * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BOX)
    line = 255 - np.minimum(255, np.asarray(ink).astype(np.int32) * 2).astype(np.uint8)  # keep thin lines dark
    ph, pw = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    line = np.pad(line, ((0, ph - h), (0, pw - w)), constant_values=255)
    color = np.pad(color, ((0, ph - h), (0, pw - w), (0, 0)), constant_values=255)
    return line, color


def split_of(family: int, seed: int) -> str:
    u = int.from_bytes(hashlib.sha256(f"{seed}/{family}".encode()).digest()[:8], "little") / 2**64
    return next(name for name, upto in SPLITS if u < upto)


def _drawings(corpus: Corpus, make, seed: int):
    """``(split, post, made)`` for the first usable post of each drawing among the colour illustrations."""
    seen_groups = set()
    for post in corpus.posts:
        truth = corpus.truth(post.id)
        if truth.tone != "color" or truth.layout != "illustration" or truth.broken or truth.dup_group in seen_groups:
            continue
        made = make(post.id)
        if made is None:
            continue
        seen_groups.add(truth.dup_group)
        yield split_of(truth.family, seed), post, made


def _write(corpus: Corpus, out: Path, make, shard_samples: int, seed: int) -> dict:
    """``make(post_id)`` gives ``[(key, line, colour, extra meta), ...]`` or None; one sample each."""
    writers = {name: ShardWriter(out / name, shard_samples) for name, _ in SPLITS}
    counts = {name: 0 for name, _ in SPLITS}
    for name, post, samples in _drawings(corpus, make, seed):
        for key, line, color, extra in samples:
            meta = {"id": post.id, "md5": post.md5, "tags": " ".join(post.tags), **extra}
            writers[name].write(key, {"line.png": _png(line), "color.png": _png(color),
                                      "json": json.dumps(meta, sort_keys=True).encode()})
        counts[name] += 1
    for w in writers.values():
        w.close()
    return counts


def write_corpus_split(corpus: Corpus, out: Path, size: int, shard_samples: int = 32, seed: int = 0) -> dict:
    """Write ``out/<split>/shard-*.tar`` from the corpus (true lines); return the number of pictures per split."""
    def make(post_id):
        pair = picture_pair(corpus, post_id, size)
        return None if pair is None else [(str(post_id), *pair, {})]

    return _write(corpus, out, make, shard_samples, seed)


def write_lineart_split(corpus: Corpus, out: Path, cfg, shard_samples: int = 32, seed: int = 0) -> dict:
    """The same drawings made by the line-art stage's code (``cfg``: a ``LineartConfig``), one sample per
    variant keyed ``<id:010d>_<variant>``; returns the number of pictures (not samples) per split."""
    from pipeline.lineart.extract import make_pair
    from pipeline.lineart.resize import Unreadable, load_scaled

    def make(post_id):
        try:
            rgb, g = load_scaled(corpus.file_path(post_id), cfg.resize, cfg.max_pixels)
        except Unreadable:
            return None
        color, lines = make_pair(rgb, g, cfg)
        return [(f"{post_id:010d}_{v.name}", line, color, {"variant": v.name})
                for v, line in zip(cfg.variants, lines, strict=True)]

    return _write(corpus, out, make, shard_samples, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--shard-samples", type=int, default=32)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--lines", choices=("truth", "extracted"), default="truth",
                    help="true line masks (--size) or the line-art stage's own pairs (params.yaml lineart:)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    a = ap.parse_args()
    corpus = Corpus(a.posts, seed=a.seed)
    if a.lines == "truth":
        counts = write_corpus_split(corpus, a.out, a.size, a.shard_samples)
    else:
        from pipeline.config import load_section
        from pipeline.lineart.config import LineartConfig

        counts = write_lineart_split(corpus, a.out, load_section(a.params, "lineart", LineartConfig), a.shard_samples)
    print(f"corpus_shards: {counts} pictures in {a.out}")


if __name__ == "__main__":
    main()
