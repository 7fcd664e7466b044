"""Versioned datasets: `dvc push` to a directory remote and an S3 remote (moto on loopback), `dvc pull` in a
fresh clone brings exactly that version, and `dvc get --rev` of an older tag gives the older manifest."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import REPO

VENV_BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "AWS_ACCESS_KEY_ID": "test",
       "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def sh(cwd: Path, *cmd: str, timeout: float = 600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's standalone S3 server on a free loopback port, with a bucket; stopped at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env=ENV)
    url = f"http://127.0.0.1:{port}"
    try:
        # moto imports its services on the first request: on a loaded CI machine that first answer took over a
        # second (a ReadTimeout, which is not a ConnectionError). Wait for the port, then give the answer time.
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(url, timeout=30)
                break
            except requests.RequestException:
                assert proc.poll() is None and time.monotonic() < deadline, f"moto did not start: see {log.name}"
                time.sleep(0.1)
        assert requests.put(f"{url}/linecolor", timeout=30).status_code == 200
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def make_repo(root: Path, posts: int) -> Path:
    """A git + DVC copy of the project (code, dvc.yaml, params with a small corpus), as a user has it."""
    repo = root / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.so")
    for d in ("pipeline", "spiders", "stages", "review"):
        shutil.copytree(REPO / d, repo / d, ignore=ignore)
    for so in (REPO / "pipeline" / "dedup").glob("_normalise*.so"):  # the build `make install` made
        shutil.copy2(so, repo / "pipeline" / "dedup" / so.name)
    for f in ("dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy2(REPO / f, repo / f)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["samplebooru"]["posts"] = posts
    params["filter"]["train"].update(steps=60, batch_size=16)  # versions, not the classifier, are under test
    params["filter"]["lines"].update(steps=40, batch_size=8)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + "*.so\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "t@example.com")
    sh(repo, "git", "config", "user.name", "t")
    sh(repo, "dvc", "init", "-q")
    return repo


def test_push_pull_and_get_a_tagged_version(tmp_path, s3):
    repo = make_repo(tmp_path, posts=150)
    sh(repo, "dvc", "remote", "add", "-d", "local", str(tmp_path / "remote"))
    sh(repo, "dvc", "remote", "add", "s3", "s3://linecolor/store")
    sh(repo, "dvc", "remote", "modify", "s3", "endpointurl", s3)
    sh(repo, "dvc", "repro", "split", timeout=900)
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "v1")
    sh(repo, "git", "tag", "v1")
    v1 = checksums(repo / "data" / "split")
    assert any(k.endswith(".tar") for k in v1) and "manifest.parquet" in v1
    # a second version: other split ratios move groups (a seed alone only breaks ties, and may move none)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["split"]["ratios"] = {"train": 0.5, "val": 0.25, "test": 0.25}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh(repo, "dvc", "repro", "split", timeout=900)
    v2 = checksums(repo / "data" / "split")
    assert v2 != v1
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "v2")
    sh(repo, "dvc", "push", "-r", "local")
    sh(repo, "dvc", "push", "-r", "s3")
    sh(repo, "git", "checkout", "-q", "v1")
    sh(repo, "dvc", "push", "-r", "local")
    sh(repo, "dvc", "push", "-r", "s3")
    sh(repo, "git", "checkout", "-q", "-")
    for remote in ("local", "s3"):
        clone = tmp_path / f"clone-{remote}"
        sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
        sh(clone, "dvc", "pull", "-r", remote, "data/split")
        assert checksums(clone / "data" / "split") == v2
    got = tmp_path / "got-v1"
    sh(tmp_path, "dvc", "get", str(repo), "data/split/manifest.parquet", "--rev", "v1", "-o", str(got))
    assert hashlib.md5(got.read_bytes()).hexdigest() == v1["manifest.parquet"]
