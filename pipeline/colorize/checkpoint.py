"""One checkpoint dict that resumes a run exactly, and the model file the export stage reads.

The checkpoint holds the plain modules' weights (never a DDP or compiled wrapper's: their keys differ),
both optimizers, the grad scaler, the position (step, epoch, batch within the epoch), the config, the run's
history and every RNG state (python, numpy, torch, CUDA; one set per rank). It is written atomically (temp
file, fsync, rename) and holds only tensors and plain Python values, so ``torch.load(weights_only=True)``
reads it: loading a checkpoint runs no pickled code.

The model file (``models/colorizer.pt``) is the generator alone: its config, weights and how it was
trained, what export and inference need, without the optimizer state that triples a checkpoint's size.
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.colorize.model import GeneratorConfig, UNet
from pipeline.store import atomic_path

MODEL_FORMAT = "linecolor-colorizer/1"


def capture_rng() -> dict[str, Any]:
    """This process's RNG states as tensors and plain values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(x):
    """random.setstate wants the nested tuples that a round trip through some loaders turns into lists."""
    return tuple(_tuples(v) for v in x) if isinstance(x, list | tuple) else x


def save_checkpoint(obj: dict[str, Any], path: Path | str) -> None:
    """Write a checkpoint (or model file) atomically: a kill leaves the previous one intact."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def save_model(generator: UNet, info: dict[str, Any], path: Path | str) -> None:
    """The generator as the export stage reads it: format, config, weights and ``info`` (mode, step, metrics)."""
    save_checkpoint({"format": MODEL_FORMAT, "generator_config": asdict(generator.config),
           "generator": {k: v.detach().cpu() for k, v in generator.state_dict().items()}, **info}, path)


def load_generator(path: Path | str) -> tuple[UNet, dict[str, Any]]:
    """The generator of a model file, in eval mode, and the file's other entries."""
    data = torch.load(path, map_location="cpu", weights_only=True)
    if data.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path}: not a colorizer model file (format {data.get('format')!r}, want {MODEL_FORMAT})")
    generator = UNet(GeneratorConfig(**data["generator_config"]))
    generator.load_state_dict(data["generator"])
    return generator.eval(), {k: v for k, v in data.items() if k not in ("generator", "generator_config")}
