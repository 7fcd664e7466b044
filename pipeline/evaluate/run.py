"""Every model over the test pictures, side by side: the trivial baseline, the L1 baseline and the GAN.

A model is a ``Predict``: the whole training line picture (H, W) uint8 in, its colouring (H, W, 3) uint8 out,
as validation runs it (eval mode, padded to the U-Net's factor and cut back). Each picture's figures
(``pipeline.evaluate.metrics.picture_metrics``) are taken on its measured pixels (``EvalPicture.box``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pipeline.colorize.augment import to_uint8, unit
from pipeline.colorize.baselines import TrivialBaseline
from pipeline.colorize.checkpoint import load_generator
from pipeline.evaluate.metrics import picture_metrics, summarise
from pipeline.evaluate.pictures import EvalPicture

Predict = Callable[[np.ndarray], np.ndarray]
MODELS = ("trivial", "l1", "gan")  # the report's column order: nothing learnt, L1 alone, pix2pix
LABELS = {"trivial": "trivial", "l1": "L1", "gan": "GAN"}
ID_COLUMNS = ("key", "id", "model")


def _as_predict(net: Callable[[torch.Tensor], torch.Tensor], factor: int) -> Predict:
    @torch.inference_mode()
    def predict(line: np.ndarray) -> np.ndarray:
        h, w = line.shape
        padded = np.pad(line, ((0, -h % factor), (0, -w % factor)), constant_values=255)
        return to_uint8(net(unit(torch.from_numpy(padded)[None, None]))[0])[:h, :w]

    return predict


def load_models(colorizer: Path, baseline_l1: Path, baseline_trivial: Path,
                threads: int | None = None) -> dict[str, Predict]:
    """The three models of the train stage as ``Predict`` functions, in ``MODELS`` order, on the CPU with
    ``threads`` torch threads (None: torch's default)."""
    if threads is not None:
        torch.set_num_threads(threads)
    gan, _ = load_generator(colorizer)
    l1, _ = load_generator(baseline_l1)
    trivial = TrivialBaseline.load(baseline_trivial)
    return {"trivial": _as_predict(trivial.predict, 1), "l1": _as_predict(l1, l1.config.factor),
            "gan": _as_predict(gan, gan.config.factor)}


def measure(pictures: Iterable[EvalPicture], models: dict[str, Predict], progress: bool = True) -> list[dict]:
    """One row per (picture, model): ``key``, ``id``, ``model`` and every figure of the picture."""
    rows = []
    for pic in tqdm(pictures, desc="evaluate: measuring", unit="picture", disable=not progress, mininterval=1.0):
        truth = pic.measured(pic.color)
        parts = pic.measured(pic.parts) if pic.parts is not None else None
        for name, predict in models.items():
            figures = picture_metrics(pic.measured(predict(pic.line)), truth, parts)
            rows.append({"key": pic.key, "id": pic.post_id, "model": name, **figures})
    return rows


def summaries(rows: list[dict]) -> dict[str, dict]:
    """Each model's means and shares over the pictures (``summarise``), in ``MODELS`` order."""
    names = [m for m in MODELS if any(r["model"] == m for r in rows)]
    return {m: summarise([{k: v for k, v in r.items() if k not in ID_COLUMNS} for r in rows if r["model"] == m])
            for m in names}
