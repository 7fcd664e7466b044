"""`python -m pipeline.colorize`: onnxruntime only, any size, line art or colour, bad inputs skipped and counted."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from pipeline.colorize.__main__ import DEFAULT_MODEL
from pipeline.colorize.infer import looks_like_line_art
from pipeline.lineart.resize import load_scaled
from stages import export as export_stage
from tests.conftest import REPO


@pytest.fixture(scope="module")
def model(tiny_models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_model")
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["export"]["parity"]["sizes"] = [[32, 48]]
    (tmp / "params.yaml").write_text(yaml.safe_dump(data))
    out = tmp / "colorizer.onnx"
    assert export_stage.main(["--model", str(tiny_models["colorizer"]), "--out", str(out), "--metrics",
                              str(tmp / "export.json"), "--params", str(tmp / "params.yaml")]) == 0
    return out


def _post(corpus, tone):
    for post in corpus.posts:
        t = corpus.truth(post.id)
        if t.tone == tone and not t.broken and post.width != post.height and t.layout == "illustration":
            return post
    raise AssertionError(tone)


def _colorize(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "pipeline.colorize", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_a_folder_with_a_corrupt_file_a_non_square_line_art_and_a_colour_picture(corpus, model, tmp_path):
    src = tmp_path / "in"
    (src / "more").mkdir(parents=True)
    colour, line = _post(corpus, "color"), _post(corpus, "lineart")
    (src / f"colour.{colour.ext}").write_bytes(corpus.file_bytes(colour.id))
    (src / "more" / f"lines.{line.ext}").write_bytes(corpus.file_bytes(line.id))
    drawn = np.full((150, 333), 255, np.uint8)  # a small, odd-sized drawing (not a multiple of anything)
    drawn[40:43, 20:300] = 0
    drawn[20:130, 160:162] = 0
    Image.fromarray(drawn).save(src / "sketch.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then nothing
    (src / "notes.txt").write_text("not a picture")
    out = tmp_path / "out"
    r = _colorize(src, "-o", out, "--model", model)
    assert r.returncode == 1, r.stderr[-2000:]  # one input failed
    made = {p.relative_to(out).as_posix(): p for p in out.rglob("*.png")}
    assert set(made) == {"colour.png", "more/lines.png", "sketch.png"}
    for name, size in (("colour.png", (colour.width, colour.height)), ("more/lines.png", (line.width, line.height)),
                       ("sketch.png", (333, 150))):
        img = Image.open(made[name])
        assert img.size == size and img.mode == "RGB", name
    assert re.search(r"skipped .*broken\.png: \w+", r.stderr)
    assert "3 of 4 coloured" in r.stdout and "1 failed" in r.stdout and "1 non-picture files" in r.stdout
    assert "colorize:" in r.stderr and "picture/s" in r.stderr  # progress on stderr


def test_torch_is_never_imported(corpus, model, tmp_path):
    """`-X importtime` lists every module the command imported: torch is not among them."""
    colour = _post(corpus, "color")
    (tmp_path / "c.png").write_bytes(corpus.file_bytes(colour.id))
    r = _colorize(tmp_path / "c.png", "-o", tmp_path / "out", "--model", model, "--input", "color")
    assert r.returncode == 0, r.stderr[-2000:]
    imported = [line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")]
    assert "onnxruntime" in imported and "pipeline.colorize.infer" in imported and len(imported) > 100
    assert not [m for m in imported if m == "torch" or m.startswith("torch.")]


def test_line_art_is_told_from_colour_pictures(corpus):
    resize = yaml.safe_load((REPO / "params.yaml").read_text())["lineart"]["resize"]
    from pipeline.lineart.config import ResizeParams

    p = ResizeParams(**{**resize, "pad_color": tuple(resize["pad_color"])})
    seen = {"lineart": [], "color": [], "greyscale": []}
    for post in corpus.posts:
        t = corpus.truth(post.id)
        if t.tone in seen and not t.broken and len(seen[t.tone]) < 12:
            rgb, _ = load_scaled(corpus.file_path(post.id), p, 10**8)
            seen[t.tone].append(looks_like_line_art(rgb))
    assert [len(v) for v in seen.values()] == [12, 12, 12]
    assert all(seen["lineart"]) and not any(seen["color"]) and not any(seen["greyscale"])


def test_an_unusable_model_is_exit_status_2(tmp_path):
    r = _colorize(tmp_path, "-o", tmp_path / "out", "--model", tmp_path / "missing.onnx")
    assert r.returncode == 2 and "no such model file" in r.stderr


def test_the_default_model_is_what_the_export_stage_writes():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["export"]
    assert str(DEFAULT_MODEL) in stage["outs"] and f"--out {DEFAULT_MODEL}" in stage["cmd"]
