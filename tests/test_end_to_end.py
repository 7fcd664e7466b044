"""The whole chain as a user runs it: `dvc repro` in a fresh clone, then the commands that must change
nothing, change only what follows a param, and run experiments (at once and queued)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import sync_playwright

from pipeline.manifest import FILTER, read_manifest
from pipeline.review.browser import launch
from pipeline.review.server import ReviewPaths, ReviewServer
from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "GIT_AUTHOR_NAME": "t",
       "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
SMALL = {  # a small corpus and a short training run: the chain, not the quality, is under test here
    ("samplebooru", "posts"): 160,
    ("train", "schedule", "epochs"): 1,
    ("train", "generator", "width"): 8,
    ("train", "discriminator", "width"): 8,
    ("filter", "train", "steps"): 60,
    ("filter", "train", "batch_size"): 16,
    ("filter", "lines", "steps"): 40,
    ("filter", "lines", "batch_size"): 8,
}


def sh(cwd: Path, *cmd: str, timeout: float = 900) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def ran(output: str) -> set[str]:
    """The stages `dvc repro` / `dvc exp run` ran (not the ones it found unchanged)."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    clone = root / "clone"
    sh(root, "git", "clone", "-q", str(REPO), str(clone))
    for path in (REPO / "pipeline" / "dedup").glob("_normalise*.so"):  # what `make install` builds in place
        shutil.copy2(path, clone / "pipeline" / "dedup" / path.name)
    # the working tree as it is (a test of uncommitted code runs that code), then small params
    for d in ("pipeline", "spiders", "stages", "review"):
        shutil.copytree(REPO / d, clone / d, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("dvc.yaml", "params.yaml", ".gitignore", ".dvcignore"):
        shutil.copy2(REPO / f, clone / f)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    for keys, value in SMALL.items():
        node = params
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(clone, "git", "add", "-A")
    sh(clone, "git", "commit", "-qm", "small demo", "--allow-empty")
    return clone


def test_repro_makes_every_output_and_a_second_repro_changes_nothing(repo):
    sh(repo, "dvc", "repro")
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        for out in stage.get("outs", []) + stage.get("metrics", []):
            path = next(iter(out)) if isinstance(out, dict) else out
            assert (repo / path).exists(), f"{name}: {path}"
    funnel = json.loads((repo / "metrics" / "funnel.json").read_text())
    assert funnel["kept_total"] + sum(funnel["dropped_total"].values()) == funnel["crawled"] > 0
    assert (repo / "reports" / "index.html").exists()
    # `dvc metrics show` proves the curation: each stage's quality against the sample corpus's truth
    proc = subprocess.run(["dvc", "metrics", "show", "--json"], cwd=repo, capture_output=True, text=True, env=ENV,
                          timeout=120, check=True)
    shown = json.loads(proc.stdout)
    m = {path: v["data"] for path, v in next(iter(shown.values()))["data"].items()}
    assert {"precision", "recall"} <= set(m["metrics/dedup.json"]["truth"])
    reasons = m["metrics/filter.json"]["truth"]  # dvc shows numbers only: no precision where nothing is true
    assert all({"precision", "recall"} <= set(reasons[r]) or reasons[r]["true"] == 0
               for r in ("small", "clutter", "greyscale", "monochrome", "lineart", "comic"))
    assert {"precision", "recall"} <= set(reasons["small"]) and {"precision", "recall"} <= set(reasons["clutter"])
    assert 0 < m["metrics/lineart.json"]["truth"]["f1"] <= 1
    assert m["metrics/split.json"]["leaks"]["groups_across_splits"] == 0
    assert all(f"de_{part}" in m["metrics/eval.json"]["models"]["gan"] for part in ("skin", "hair", "eyes"))
    again = sh(repo, "dvc", "repro")
    assert not ran(again), again
    assert "Data and pipelines are up to date" in sh(repo, "dvc", "status")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "demo outputs")


def test_a_review_click_then_dvc_repro_retrains_and_the_decision_follows(repo):
    """The review loop in a browser: "wrong: not small" on a rejection, then `dvc repro` retrains the
    classifier, reruns the filter, and the picture is no longer rejected as small."""
    decisions = read_manifest(FILTER.path(repo / "data" / "filter"), FILTER)
    small = decisions[(decisions["reason"] == "small") & (decisions["reasons"] == "small")]
    assert len(small), "the demo filter rejects some pictures as too small"
    pid = int(small.sort_values("p_small", ascending=False)["id"].iloc[0])
    page = sorted((repo / "reports" / "filter").glob("reject-*-small-*.html"))
    paths = ReviewPaths(repo / "reports", repo / "data" / "raw" / "images", repo / "review" / "labels.csv",
                        repo / "review" / "dedup_labels.csv")
    with ReviewServer(paths).start(0) as srv, sync_playwright() as p:
        browser = launch(p)
        tab = browser.new_page()
        for name in (f.name for f in page):  # the picture is on one of the small pages
            tab.goto(f"{srv.url}/reports/filter/{name}")
            fig = tab.locator(f"figure[data-post-id='{pid}']")
            if fig.count():
                break
        fig.get_by_role("button", name="wrong: not small").click()
        fig.locator(".said").filter(has_text="recorded").wait_for(timeout=10_000)
        browser.close()
    out = ran(sh(repo, "dvc", "repro"))
    assert {"classifier", "filter"} <= out, out
    after = read_manifest(FILTER.path(repo / "data" / "filter"), FILTER).set_index("id").loc[pid]
    assert "small" not in after["reasons"].split() and after["verdicts"] == "small=0"
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "a verdict")


def test_a_lineart_param_reruns_lineart_and_what_follows_only(repo):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["lineart"]["methods"]["xdog"]["sigma"] = 0.6
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = ran(sh(repo, "dvc", "repro"))
    assert "lineart" in out and "split" in out and "train" in out
    assert not out & {"crawl", "dedup", "classifier", "filter"}, out
    sh(repo, "git", "checkout", "params.yaml")
    sh(repo, "dvc", "repro")  # back to the committed version (from the run cache)


def test_experiments_at_once_and_queued_are_listed(repo):
    sh(repo, "git", "add", "-A")  # the queue runs from a commit: dvc.lock and the metrics must be in it
    sh(repo, "git", "commit", "-qm", "before experiments", "--allow-empty")
    sh(repo, "dvc", "exp", "run", "-S", "train.schedule.epochs=2", "--name", "two-epochs")
    sh(repo, "dvc", "exp", "run", "--queue", "-S", "train.optim.lr=0.001", "--name", "queued-lr")
    sh(repo, "dvc", "queue", "start", "-j", "1")
    for _ in range(180):  # the worker runs in the background: wait for it, boundedly
        status = sh(repo, "dvc", "queue", "status")
        if "queued-lr" in status and ("Success" in status or "Failed" in status):
            break
        subprocess.run(["sleep", "2"])
    assert "Success" in status, status + sh(repo, "dvc", "queue", "logs", "queued-lr")
    shown = sh(repo, "dvc", "exp", "show", "--csv")  # the table, unabridged (the terminal view truncates)
    assert "two-epochs" in shown and "queued-lr" in shown
    table = json.loads(sh(repo, "dvc", "exp", "show", "--json"))
    names = {e.get("name") for c in table for e in c.get("experiments") or []}
    assert {"two-epochs", "queued-lr"} <= names
