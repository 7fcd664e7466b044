"""The train stage: the colorizer and both baselines, better than the trivial one, and runs DVC can compare.

The DVC test runs the stage entry below (the one to add to dvc.yaml once the split stage, #13, writes
data/split; the repo's own entry is used instead as soon as dvc.yaml has one) with `dvc exp run` in a
temporary git repository and reads the runs back with `dvc exp show` and `dvc plots diff`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.colorize.checkpoint import load_generator
from stages import train as train_stage
from tests.colorize_data import train_params, write_split
from tests.conftest import REPO

# The flatness terms off: on this 64-picture toy they hold the GAN's colours back far longer than 96 steps
# (after 160, gradient 100 + SSIM 50: val L1 0.106, PSNR 12.33 dB, the shapes still near white; neither: 0.081,
# 15.25 dB; trivial 0.154, 12.57 dB). What they do to a real split is measured by evaluate (README
# "Evaluate"); that the GAN's loss has them, by test_colorize_checkpoint.
LEARNABLE = {"generator": {"width": 8}, "discriminator": {"width": 8}, "optim": {"lr": 2e-3},
             "loss": {"gradient_weight": 0.0, "ssim_weight": 0.0}, "schedule": {"epochs": 6, "log_every": 100}}


def _args(data, out, params):
    return ["--data", str(data), "--out", str(out / "colorizer.pt"), "--baseline-l1", str(out / "baseline_l1.pt"),
            "--baseline-trivial", str(out / "trivial.json"), "--state", str(out / "state"), "--live",
            str(out / "live"), "--metrics", str(out / "metrics.json"), "--params", str(params)]


def test_colorizer_and_l1_baseline_beat_the_trivial_baseline(tmp_path, capsys):
    data = write_split(tmp_path / "split", {"train": 64, "val": 8}, size=(48, 64))
    params = train_params(tmp_path / "params.yaml", **LEARNABLE)
    out = tmp_path / "out"
    assert train_stage.main(_args(data, out, params)) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["beats_trivial"] is True
    for run in ("colorizer", "baseline_l1"):
        assert m[run]["val_l1"] < 0.85 * m["trivial"]["val_l1"], (run, m)
        assert m[run]["val_psnr"] > m["trivial"]["val_psnr"]
        assert m[run]["steps"] == 6 * 16 and m[run]["epochs"] == 6
    assert (m["colorizer"]["mode"], m["baseline_l1"]["mode"]) == ("gan", "l1")
    generator, info = load_generator(out / "colorizer.pt")
    assert info["mode"] == "gan" and info["step"] == 96 and generator.config.width == 8
    trivial = json.loads((out / "trivial.json").read_text())
    assert trivial["kind"] == "trivial" and trivial["pictures"] == 50  # baselines.trivial_samples
    grids = sorted((out / "live" / "colorizer" / "plots" / "images" / "val_grid").glob("*.png"))
    assert len(grids) == 6
    capsys.readouterr()
    assert train_stage.main(_args(data, out, params)) == 0  # finished runs are found finished, not redone
    again = capsys.readouterr().out
    assert "resumed at step 96 (epoch 6, batch 0)" in again and "batch 1/" not in again
    assert json.loads((out / "metrics.json").read_text())["colorizer"]["val_l1"] == m["colorizer"]["val_l1"]


def _entry():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return stages["train"]


def test_the_entry_lists_every_module_the_stage_imports_and_existing_params():
    """What tests/test_dvc_yaml.py checks of every stage in dvc.yaml, checked of the entry before it is there."""
    from pathlib import Path

    from tests.test_dvc_yaml import project_files

    deps = [Path(d) for d in _entry()["deps"]]
    missing = [str(f) for f in project_files("stages.train") if not any(f == d or f.is_relative_to(d) for d in deps)]
    assert not missing, f"add to the train entry's deps: {missing}"
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for key in _entry()["params"]:
        node = params
        for part in key.split("."):
            assert part in node, key
            node = node[part]
    train = [k for k in _entry()["params"] if k.startswith("train.")]
    assert sorted(k.split(".")[1] for k in train) == sorted(params["train"])  # the whole section
    assert sorted(set(_entry()["params"]) - set(train)) == ["lineart.default"]  # validation's line variant


def _run(cmd, cwd, **kw):
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("repo")
    for name in ("stages", "pipeline"):
        (repo / name).symlink_to(REPO / name)
    write_split(repo / "data" / "split", {"train": 24, "val": 4}, size=(32, 48))
    train_params(repo / "params.yaml", schedule={"epochs": 2})
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": _entry()}}, sort_keys=False))
    (repo / ".gitignore").write_text((REPO / ".gitignore").read_text())
    (repo / ".dvcignore").write_text((REPO / ".dvcignore").read_text())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # `python`
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    dvc = str(Path(sys.executable).parent / "dvc")
    _run(["git", "init", "-q"], repo)
    _run([dvc, "init", "-q"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "train stage"], repo, env=env)
    for lr in ("0.0002", "0.002"):
        _run([dvc, "exp", "run", "-S", f"train.optim.lr={lr}"], repo, env=env)
    return repo, dvc, env


def test_dvc_exp_show_lists_each_run_with_its_params_and_metrics(dvc_repo):
    repo, dvc, env = dvc_repo
    shown = json.loads(_run([dvc, "exp", "show", "--json"], repo, env=env).stdout)
    runs = {}
    for exp in (e for commit in shown for e in commit.get("experiments") or []):  # under their baseline commit
        for rev in exp["revs"]:
            data = rev["data"]
            lr = data["params"]["params.yaml"]["data"]["train"]["optim"]["lr"]
            runs[lr] = data["metrics"]["metrics/train.json"]["data"]
    assert set(runs) == {0.0002, 0.002}
    for metrics in runs.values():
        assert metrics["colorizer"]["steps"] == 2 * 6 and metrics["trivial"]["pictures"] == 24
    assert runs[0.0002]["colorizer"]["val_l1"] != runs[0.002]["colorizer"]["val_l1"]


def test_dvc_plots_hold_the_epoch_curves_and_grids(dvc_repo):
    repo, dvc, env = dvc_repo
    names = _run([dvc, "exp", "ls", "--names-only"], repo, env=env).stdout.split()
    plots = json.loads(_run([dvc, "plots", "diff", "--json", *names], repo, env=env).stdout)["data"]
    curves = [k for k in plots if k.endswith("val/l1.tsv")]
    assert len(curves) == 2  # the colorizer's and the L1 baseline's
    for k in curves:
        revisions = {r for plot in plots[k] for r in plot["revisions"]}
        assert revisions == set(names)
    assert any(k.endswith("val_grid/1.png") for k in plots)
