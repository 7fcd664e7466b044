"""The export stage: ONNX with dynamic batch, height and width, torch parity checked and written, and the
metadata the colorize command runs on (no params.yaml needed)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import yaml

from pipeline.colorize.checkpoint import load_generator
from pipeline.colorize.infer import Colorizer, ModelError, read_info
from pipeline.config import load_keys
from pipeline.lineart.config import Extraction
from stages import export as export_stage
from tests.conftest import REPO

torch.set_num_threads(1)


def _params(tmp_path, **parity):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["export"]["parity"].update({"sizes": [[32, 32], [24, 56]], **parity})  # the tiny U-Net's factor is 8
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _export(tiny_models, tmp_path, **parity):
    out = tmp_path / "colorizer.onnx"
    rc = export_stage.main(["--model", str(tiny_models["colorizer"]), "--out", str(out), "--metrics",
                            str(tmp_path / "export.json"), "--params", str(_params(tmp_path, **parity))])
    return rc, out, json.loads((tmp_path / "export.json").read_text())


@pytest.fixture(scope="module")
def exported(tiny_models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    rc, out, m = _export(tiny_models, tmp)
    assert rc == 0
    return out, m


def test_parity_with_torch_is_checked_and_written(exported):
    _, m = exported
    p = m["parity"]
    assert p["ok"] is True and p["max_abs_diff"] < 1e-3 and p["tolerance"] == 1e-3 and p["precision"] == "fp32"
    assert set(p["per_size"]) == {"32x32", "24x56"} and p["batch"] == 2
    assert m["factor"] == 8 and m["input_shape"] == ["n", 1, "8*h", "8*w"] and m["mode"] == "gan"


def test_batch_height_and_width_are_dynamic(exported, tiny_models):
    """Shapes the export never saw (batch 3, 40 x 72, 64 x 16) agree with torch within 1e-3."""
    path, _ = exported
    generator, _ = load_generator(tiny_models["colorizer"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(3, 1, 40, 72), (1, 1, 64, 16)]:
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
        with torch.inference_mode():
            want = generator(x).numpy()
        got = session.run(["color"], {"line": x.numpy()})[0]
        assert got.shape == (shape[0], 3, *shape[2:]) and np.abs(got - want).max() < 1e-3


def test_the_model_carries_what_the_colorize_command_needs(exported):
    path, _ = exported
    model = onnx.load(str(path))
    info = read_info({p.key: p.value for p in model.metadata_props}, path)
    assert info.factor == 8 and info.model["mode"] == "gan" and info.model["generator"]["depth"] == 3
    assert info.lines == load_keys(REPO / "params.yaml", "lineart", Extraction)  # training's line extraction
    assert Colorizer(path).info == info


def test_a_model_that_fails_parity_is_not_written(tiny_models, tmp_path):
    rc, out, m = _export(tiny_models, tmp_path, tolerance=1e-15)
    assert rc == 1 and not out.exists() and m["parity"]["ok"] is False and m["parity"]["max_abs_diff"] > 1e-15
    assert not list(tmp_path.glob(".*"))  # no temporary file or folder left behind


def test_parity_sizes_the_network_cannot_take_are_refused(tiny_models, tmp_path):
    with pytest.raises(ValueError, match=r"multiples of the U-Net's factor 8"):
        _export(tiny_models, tmp_path, sizes=[[30, 32]])


def test_a_file_that_is_not_an_exported_colorizer_is_refused(tmp_path, exported):
    path, _ = exported
    bare = onnx.load(str(path))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(ModelError, match="not a linecolor colorizer"):
        Colorizer(tmp_path / "bare.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not an ONNX model"):
        Colorizer(tmp_path / "junk.onnx")


def test_dvc_repro_export_runs_the_entry_and_keeps_its_metrics(tiny_models, tmp_path):
    """The repo's dvc.yaml entry, run by `dvc repro` in a temporary git repository: the model and the
    cached metrics appear, and `dvc metrics show` reads the parity back."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("stages", "pipeline"):
        (repo / name).symlink_to(REPO / name)
    (repo / "models").mkdir()
    shutil.copy(tiny_models["colorizer"], repo / "models" / "colorizer.pt")
    shutil.copy(_params(tmp_path), repo / "params.yaml")
    entry = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["export"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"export": entry}}, sort_keys=False))
    shutil.copy(REPO / ".dvcignore", repo / ".dvcignore")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    dvc = str(Path(sys.executable).parent / "dvc")
    for cmd in (["git", "init", "-q"], [dvc, "init", "-q"], [dvc, "repro", "export"]):
        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True, text=True)
    shown = json.loads(subprocess.run([dvc, "metrics", "show", "--json"], cwd=repo, env=env, check=True,
                                      capture_output=True, text=True).stdout)
    metrics = next(iter(shown.values()))["data"]["metrics/export.json"]["data"]
    assert metrics["parity"]["ok"] is True and (repo / "models" / "colorizer.onnx").is_file()
    assert "metrics/export.json" in (repo / "dvc.lock").read_text()
