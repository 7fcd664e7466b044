"""Colouring a picture with the exported ONNX model and onnxruntime alone: torch is never imported.

The model file carries what this needs (``metadata_props``, written by ``pipeline.colorize.export``), so
nothing here reads params.yaml: the U-Net's size factor, its input and output ranges, and the line-art
settings it was trained with (``Extraction``). A picture is

1. decoded and brought to the training resolution exactly as the line-art stage brings a training picture
   (``pipeline.lineart.resize.load_scaled``: EXIF orientation, alpha on white, area scaling; always padded,
   never cropped, so every pixel is coloured);
2. made a line picture: a colour picture by the default variant's extraction (method, grey channel, line
   weight), as training's line pictures were made; line art by keeping a pixel as ink when at least
   100/255 of it is covered (the rule the extraction was scored against, ``pipeline.lineart.truth``);
3. padded with white to the line-art multiple and the U-Net's factor, coloured, cut back to the picture
   and scaled back to the file's displayed size: the output always has the input's size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from pipeline.config import from_mapping
from pipeline.lineart.config import Extraction
from pipeline.lineart.methods import INK, PAPER, extract, grey, thicken
from pipeline.lineart.resize import Geometry, load_scaled, place
from pipeline.lineart.truth import COVERAGE_LEVEL

FORMAT = "linecolor-colorizer-onnx/1"
META_FORMAT, META_FACTOR, META_IO, META_LINEART, META_MODEL = (
    "linecolor.format", "linecolor.factor", "linecolor.io", "linecolor.lineart", "linecolor.model")
INPUT, OUTPUT = "line", "color"
IO = {"input": {"name": INPUT, "shape": "N,1,H,W", "range": [-1.0, 1.0], "from_uint8": "x / 127.5 - 1",
                "lines": "dark (0) on white (255)"},
      "output": {"name": OUTPUT, "shape": "N,3,H,W", "channels": "RGB", "range": [-1.0, 1.0],
                 "to_uint8": "round((y + 1) * 127.5)"}}
KINDS = ("auto", "line", "color")


class ModelError(ValueError):
    """A file that is not a colorizer exported by the export stage; the message says what is wrong."""


@dataclass(frozen=True)
class ModelInfo:
    factor: int  # height and width of the network's input must be multiples of it
    lines: Extraction  # how training made its line pictures
    model: dict  # how it was trained (mode, step, the generator's config)


def read_info(props: dict[str, str], where: object) -> ModelInfo:
    """The export stage's metadata of a model file, checked."""
    if props.get(META_FORMAT) != FORMAT:
        raise ModelError(f"{where}: not a linecolor colorizer (metadata {META_FORMAT} is "
                         f"{props.get(META_FORMAT)!r}, want {FORMAT!r}): export it with `dvc repro export`")
    try:
        io_spec = json.loads(props[META_IO])
        if io_spec != json.loads(json.dumps(IO)):
            raise ModelError(f"{where}: inputs/outputs {io_spec} are not the ones this version runs ({IO})")
        lines = from_mapping(Extraction, json.loads(props[META_LINEART]), f"{where}: {META_LINEART}")
        return ModelInfo(int(props[META_FACTOR]), lines, json.loads(props[META_MODEL]))
    except (KeyError, json.JSONDecodeError) as exc:
        raise ModelError(f"{where}: broken metadata ({type(exc).__name__}: {exc})") from exc


def providers(available: list[str]) -> list[str]:
    """CUDA when this onnxruntime has it (onnxruntime-gpu), the CPU otherwise (and as the fallback)."""
    return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]


def looks_like_line_art(rgb: np.ndarray) -> bool:
    """Line art: almost no saturated pixel, mostly paper, and its grey pixels are lines, not flats: hardly any
    lies 2 px inside a region of grey. On the sample corpus at 256 px that share is at most 0.003 for line art
    and at least 0.019 for greyscale illustrations (tests/test_colorize_cli.py tells 12 of each apart)."""
    top, low = rgb.max(axis=2).astype(np.int16), rgb.min(axis=2).astype(np.int16)
    saturated = ((top - low) * 5 > top) & (top > 60)  # HSV saturation above 0.2, not near black
    grey_tone = ((top >= 60) & (top <= 225)).astype(np.uint8)
    flats = cv2.erode(grey_tone, np.ones((5, 5), np.uint8))
    return bool(saturated.mean() < 0.01 and (top > 225).mean() > 0.5 and flats.mean() < 0.008)


def line_picture(rgb: np.ndarray, kind: str, lines: Extraction) -> np.ndarray:
    """The (H, W) uint8 line picture the network takes, of a scaled picture that is ``line`` art or ``color``."""
    v = lines.default_variant
    if kind == "color":
        return extract(rgb, [v], lines.methods, lines.channel)[0]
    if kind != "line":
        raise ValueError(f"kind must be line or color, not {kind!r}")
    ink = grey(rgb, lines.channel) * 255 <= 255 - COVERAGE_LEVEL + 0.5
    return thicken(np.where(ink, INK, PAPER).astype(np.uint8), v.thicken)


def unscale(picture: np.ndarray, g: Geometry) -> np.ndarray:
    """The scaled picture back at the file's displayed size (area down, bicubic up)."""
    if (g.scaled_w, g.scaled_h) == (g.width, g.height):
        return picture
    up = g.width > g.scaled_w or g.height > g.scaled_h
    return cv2.resize(picture, (g.width, g.height), interpolation=cv2.INTER_CUBIC if up else cv2.INTER_AREA)


class Colorizer:
    """An onnxruntime session of ``models/colorizer.onnx`` and what its metadata says."""

    def __init__(self, path: Path | str, threads: int | None = None):
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        if not Path(path).is_file():
            raise ModelError(f"{path}: no such model file (make it with `dvc repro export`)")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers(ort.get_available_providers()))
        except Exception as exc:  # onnxruntime raises its own kinds for a file that is not a model
            raise ModelError(f"{path}: not an ONNX model onnxruntime can load ({type(exc).__name__})") from exc
        self.info = read_info(self.session.get_modelmeta().custom_metadata_map, path)
        self.resize = replace(self.info.lines.resize, fit="pad")  # colour every pixel: never crop
        self.provider = self.session.get_providers()[0]

    def run(self, line: np.ndarray) -> np.ndarray:
        """A (H, W) uint8 line picture, any size, coloured: (H, W, 3) uint8 (padded to the factor, cut back)."""
        h, w = line.shape
        f = self.info.factor
        padded = np.pad(line, ((0, -h % f), (0, -w % f)), constant_values=PAPER)
        x = (padded.astype(np.float32) / np.float32(127.5) - np.float32(1.0))[None, None]
        y = self.session.run([OUTPUT], {INPUT: x})[0][0, :, :h, :w]
        return np.round((np.clip(y, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8).transpose(1, 2, 0)

    def colorize_file(self, path: Path | str, kind: str = "auto") -> tuple[np.ndarray, str]:
        """The file's colouring at its displayed size, and whether it was taken as ``line`` art or ``color``.

        An unreadable file raises ``pipeline.lineart.resize.Unreadable`` (its reason in ``args[0]``)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        rgb, g = load_scaled(path, self.resize, self.info.lines.max_pixels)
        kind = ("line" if looks_like_line_art(rgb) else "color") if kind == "auto" else kind
        out = self.run(place(line_picture(rgb, kind, self.info.lines), g, PAPER))
        return unscale(np.ascontiguousarray(out[g.box]), g), kind
