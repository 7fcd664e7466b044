"""The trained generator as an ONNX model with dynamic batch, height and width, checked against torch.

``torch.onnx.export(dynamo=True)`` (onnxscript) exports the U-Net in eval mode with the batch free and the
height and width free multiples of its factor (``2**depth``): ``N x 1 x (f*h) x (f*w)``. What the colorize
command needs is written into the model's ``metadata_props`` (``pipeline.colorize.infer``: the factor, the
input and output ranges, the line-art settings of training), so it never reads params.yaml. Parity: the
same inputs through onnxruntime (CPU) and torch (fp32), largest absolute difference against
``parity.tolerance``; a model that fails it is not written.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from pipeline.colorize.checkpoint import load_generator
from pipeline.colorize.config import ExportConfig, ParityConfig
from pipeline.colorize.infer import (
    FORMAT,
    INPUT,
    IO,
    META_FACTOR,
    META_FORMAT,
    META_IO,
    META_LINEART,
    META_MODEL,
    OUTPUT,
)
from pipeline.colorize.model import UNet
from pipeline.lineart.config import Extraction
from pipeline.store import atomic_path


class ParityError(RuntimeError):
    """onnxruntime and torch disagree by more than the tolerance; ``args[1]`` is the parity dict."""


def export_onnx(generator: UNet, path: Path | str, opset: int) -> None:
    """Write the generator (eval mode) as ONNX: batch, height and width dynamic (multiples of its factor)."""
    f = generator.config.factor
    h, w = torch.export.Dim("h", min=1), torch.export.Dim("w", min=1)
    program = torch.onnx.export(generator.eval(), (torch.zeros(1, 1, 2 * f, 3 * f),), dynamo=True,
                                opset_version=opset, input_names=[INPUT], output_names=[OUTPUT],
                                dynamic_shapes=({0: torch.export.Dim("n"), 2: f * h, 3: f * w},), verbose=False)
    program.save(str(path))


def metadata(generator: UNet, info: dict, lines: Extraction) -> dict[str, str]:
    """The model's ``metadata_props``: what ``pipeline.colorize.infer.read_info`` reads back."""
    model = {"mode": info.get("mode"), "step": info.get("step"), "epoch": info.get("epoch"),
             "generator": asdict(generator.config)}
    return {META_FORMAT: FORMAT, META_FACTOR: str(generator.config.factor), META_IO: json.dumps(IO, sort_keys=True),
            META_LINEART: json.dumps(asdict(lines), sort_keys=True), META_MODEL: json.dumps(model, sort_keys=True)}


def parity(path: Path | str, generator: UNet, cfg: ParityConfig, threads: int | None) -> dict:
    """Largest |onnxruntime - torch| over seeded inputs of each size (values in [-1, 1])."""
    f = generator.config.factor
    bad = [s for s in cfg.sizes if s[0] % f or s[1] % f]
    if bad:
        raise ValueError(f"parity.sizes {bad}: height and width must be multiples of the U-Net's factor {f}")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = torch.Generator().manual_seed(0)
    per = {}
    for h, w in cfg.sizes:
        x = torch.rand(cfg.batch, 1, h, w, generator=rng) * 2 - 1
        with torch.inference_mode():
            want = generator(x).numpy()
        got = session.run([OUTPUT], {INPUT: x.numpy()})[0]
        if got.shape != want.shape:
            raise ParityError(f"onnxruntime gave {got.shape}, torch {want.shape}", {})
        per[f"{h}x{w}"] = float(np.abs(got - want).max())
    worst = max(per.values())
    return {"max_abs_diff": worst, "per_size": per, "batch": cfg.batch, "tolerance": cfg.tolerance,
            "ok": worst < cfg.tolerance, "precision": "fp32", "provider": "CPUExecutionProvider"}


def export(model_path: Path | str, out: Path | str, cfg: ExportConfig, lines: Extraction) -> dict:
    """Export ``model_path`` (``models/colorizer.pt``) to ``out`` with its metadata, if it passes parity.

    Returns the metrics; raises ``ParityError`` (nothing written) when onnxruntime and torch disagree."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    generator, info = load_generator(model_path)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=Path(out).parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        export_onnx(generator, raw, cfg.opset)
        model = onnx.load(str(raw))
        for key, value in metadata(generator, info, lines).items():
            model.metadata_props.add(key=key, value=value)
        onnx.checker.check_model(model)
        with atomic_path(out) as dest:
            onnx.save(model, str(dest))
            check = parity(dest, generator, cfg.parity, cfg.threads)
            if not check["ok"]:
                raise ParityError(f"onnxruntime and torch differ by {check['max_abs_diff']:.3g} "
                                  f"(tolerance {cfg.parity.tolerance:g})", check)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return {"parity": check, "opset": cfg.opset, "factor": generator.config.factor, "input_shape": dims,
            "bytes": Path(out).stat().st_size, "mode": info.get("mode"), "step": info.get("step")}
