"""A checkout whose C extension is missing or stale says, in one line, to run `make install`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def _import_in_copy(tmp_path: Path, plant: str | None) -> subprocess.CompletedProcess:
    """Import the dedup package from a copy of ``pipeline/`` without the built .so (``plant``: a fake one)."""
    shutil.copytree(REPO / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    if plant is not None:
        (tmp_path / "pipeline" / "dedup" / "_normalise.py").write_text(plant)
    code = (f"import pipeline; assert pipeline.__file__.startswith({str(tmp_path)!r}); import pipeline.dedup\n"
            "print('imported')  # searching saved hashes needs no extension: only hashing does\n"
            "import pandas as pd\n"
            "from pipeline.dedup import HashParams, hash_posts\n"
            "posts = pd.DataFrame({'status': ['ok'], 'md5': ['0' * 32], 'path': ['images/00/x.png']})\n"
            "hash_posts(posts, '.', 'shards', HashParams(10**8, 16), shard_size=10)")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})


@pytest.mark.parametrize(("plant", "says"), [
    (None, "is not built for this checkout"),
    ("ABI = 1\n", "is stale (ABI 1, this code needs"),
])
def test_missing_or_stale_extension_says_run_make_install(tmp_path, plant, says):
    assert list((REPO / "pipeline" / "dedup").glob("_normalise*.so")), "the real build is there (make install)"
    proc = _import_in_copy(tmp_path, plant)
    assert proc.returncode != 0 and proc.stdout == "imported\n"
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: the C extension pipeline.dedup._normalise ")
    assert says in last and "run `make install`" in last
    assert "circular import" not in proc.stderr
