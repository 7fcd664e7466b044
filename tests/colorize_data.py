"""Small synthetic splits for the colorizer's tests: learnable, non-square, fast to write.

Each picture is white with a few filled shapes whose colour follows their kind (discs red, boxes blue,
diamonds green), outlined in black; the line picture is the outlines alone. A colorizer that learns
"inside a shape of this kind" beats the trivial baseline, which only knows line from not-line.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipeline.shardio import ShardWriter

COLOURS = {"disc": (220, 40, 40), "box": (40, 70, 220), "diamond": (40, 170, 60)}


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def picture(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(line L, colour RGB) uint8 of one synthetic drawing."""
    color = np.full((height, width, 3), 255, np.uint8)
    outline = np.zeros((height, width), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        kind = list(COLOURS)[int(rng.integers(0, 3))]
        r = int(rng.integers(min(height, width) // 8, min(height, width) // 3))
        cx, cy = int(rng.integers(r, width - r)), int(rng.integers(r, height - r))
        if kind == "disc":
            pts = cv2.ellipse2Poly((cx, cy), (r, r), 0, 0, 360, 10)
        elif kind == "box":
            pts = np.array([[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r], [cx - r, cy + r]], np.int32)
        else:
            pts = np.array([[cx, cy - r], [cx + r, cy], [cx, cy + r], [cx - r, cy]], np.int32)
        cv2.fillPoly(color, [pts], COLOURS[kind])
        cv2.fillPoly(outline, [pts], 0)  # a shape in front hides the lines behind it
        cv2.polylines(outline, [pts], True, 255, 2)
    color[outline > 0] = (20, 20, 20)
    return (255 - outline).astype(np.uint8), color


def repo_params() -> dict:
    import yaml

    from tests.conftest import REPO

    return yaml.safe_load((REPO / "params.yaml").read_text())


VARIANT = repo_params()["lineart"]["default"]  # what validation (and evaluate) score: keys <name>_<VARIANT>


def write_split(folder: Path, counts: dict[str, int], size: tuple[int, int] = (64, 96), shard_samples: int = 8,
                seed: int = 0, variants: tuple[str, ...] = (VARIANT,)) -> Path:
    """``folder/<split>/shard-*.tar`` with ``counts[split]`` pictures of ``size`` (h, w), each under every
    line variant (keys ``<split><i>_<variant>``, as the split stage names them); returns ``folder``."""
    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        with ShardWriter(folder / split, shard_samples) as w:
            for i in range(n):
                line, color = picture(rng, *size)
                for v in variants:
                    w.write(f"{split}{i:04d}_{v}", {"line.png": _png(line), "color.png": _png(color),
                                                    "json": json.dumps({"id": i}).encode()})
    return folder


# The repo's train section made tiny: a few steps at 32 px on one thread, for tests.
TINY = {
    "generator": {"width": 4, "depth": 3, "dropout_blocks": 1},
    "discriminator": {"width": 4, "layers": 2},
    "data": {"batch_size": 4, "workers": 0, "crop": 32, "shuffle_buffer": 8, "grid_samples": 2, "grid_size": 32},
    "schedule": {"epochs": 2, "checkpoint_every": 3, "log_every": 5},
    "device": {"threads": 1},
    "baselines": {"trivial_samples": 50},
}


def _merge(base: dict, over: dict) -> dict:
    return {k: _merge(base[k], over[k]) if isinstance(base.get(k), dict) and isinstance(over.get(k), dict)
            else over.get(k, base.get(k)) for k in {**base, **over}}


def train_params(path: Path, **over) -> Path:
    """Write a params file whose ``train:`` is the repo's, made TINY, with ``over`` merged in (nested), and
    the one ``lineart:`` key the train stage reads."""
    import yaml

    section = repo_params()["train"]
    path.write_text(yaml.safe_dump({"train": _merge(_merge(section, TINY), over), "lineart": {"default": VARIANT}}))
    return path


def train_config(tmp: Path, **over):
    """The TINY ``TrainConfig`` (with ``over``), loaded through the stage's own rule."""
    from pipeline.colorize.config import TrainConfig
    from pipeline.config import load_section

    return load_section(train_params(tmp / "params.yaml", **over), "train", TrainConfig)
