"""A training run killed with SIGKILL and started again continues exactly as if it had never stopped.

Both runs are the real stage (`python -m stages.train`) in subprocesses, on the CPU, in gan mode with
dropout, a shuffle buffer and two DataLoader workers, so every source of randomness and the loader's
position must come back from the checkpoint for the step losses to match to the last bit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from pipeline.colorize.live import StepLog
from tests.colorize_data import train_params, write_split
from tests.conftest import REPO

# 18 steps an epoch, a checkpoint every 4: the kill, right after the first one, lands well inside epoch 1
OVER = {"data": {"workers": 2, "crop": 32}, "schedule": {"epochs": 2, "checkpoint_every": 4, "log_every": 5},
        "generator": {"width": 8, "dropout": 0.5}}


def _cmd(data, out, params):
    return [sys.executable, "-m", "stages.train", "--data", str(data), "--out", str(out / "colorizer.pt"),
            "--state", str(out / "state"), "--live", str(out / "live"), "--metrics", str(out / "metrics.json"),
            "--params", str(params)]


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    data = write_split(tmp / "split", {"train": 72, "val": 4}, size=(32, 48), shard_samples=6)
    params = train_params(tmp / "params.yaml", **OVER)
    whole, killed = tmp / "whole", tmp / "killed"
    subprocess.run(_cmd(data, whole, params), check=True, cwd=REPO, env=_env(), capture_output=True)

    ckpt = killed / "state" / "colorizer" / "checkpoint.pt"
    proc = subprocess.Popen(_cmd(data, killed, params), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = torch.load(ckpt, weights_only=True)
    logged_at_kill = StepLog(killed / "state" / "colorizer" / "steps.jsonl").read()
    resumed = subprocess.run(_cmd(data, killed, params), check=True, cwd=REPO, env=_env(), capture_output=True,
                             text=True)
    return whole, killed, at_kill, logged_at_kill, resumed.stdout


def test_the_kill_landed_mid_run(runs):
    whole, _, at_kill, _, stdout = runs
    total = torch.load(whole / "state" / "colorizer" / "checkpoint.pt", weights_only=True)["step"]
    assert total == 2 * 18  # 72 pictures, batch 4, 2 epochs
    assert 0 < at_kill["step"] < total and at_kill["batch"] > 0  # killed inside an epoch, not after it
    assert f"resumed at step {at_kill['step']}" in stdout


def test_resumed_run_makes_exactly_the_uninterrupted_steps(runs):
    whole, killed, at_kill, logged_at_kill, _ = runs
    a = StepLog(whole / "state" / "colorizer" / "steps.jsonl").read()
    b = StepLog(killed / "state" / "colorizer" / "steps.jsonl").read()
    assert [r["step"] for r in a] == list(range(1, 37))
    assert b == a  # every loss of every step, bit for bit, the ones right after the resume among them
    assert len(logged_at_kill) >= at_kill["step"]  # (the killed run had logged them before it died)
    ca, cb = (torch.load(r / "state" / "colorizer" / "checkpoint.pt", weights_only=True) for r in (whole, killed))
    for part in ("generator", "discriminator"):
        assert all(torch.equal(ca[part][k], cb[part][k]) for k in ca[part])
    untimed = [[{k: v for k, v in e.items() if k != "seconds"} for e in c["history"]] for c in (ca, cb)]
    assert untimed[0] == untimed[1]  # the same train means and val metrics every epoch


def test_dvclive_holds_each_epoch_once(runs):
    whole, killed, *_ = runs
    for run in (whole, killed):
        rows = (run / "live" / "colorizer" / "plots" / "metrics" / "val" / "l1.tsv").read_text().splitlines()
        assert [r.split("\t")[0] for r in rows] == ["step", "0", "1"]
        grids = sorted(p.name for p in (run / "live" / "colorizer" / "plots" / "images" / "val_grid").iterdir())
        assert grids == ["0.png", "1.png"]
    val = [(r / "live" / "colorizer" / "plots" / "metrics" / "val" / "l1.tsv").read_text() for r in (whole, killed)]
    assert val[0] == val[1]
