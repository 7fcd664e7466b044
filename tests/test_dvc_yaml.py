"""dvc.yaml's deps are complete and exact: every project module a stage can import is under one of its
deps, and every module it lists is one it imports.

A dep left out means a code change that does not rerun the stage (a renderer change and the crawl, say); a
module listed that the stage no longer imports reruns it for nothing (the training code and the filter).
The imports are found statically (``modulefinder`` reads every code object, so imports inside functions,
which the stages use to start fast, count too).
"""

from __future__ import annotations

import modulefinder
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def project_files(module: str) -> set[Path]:
    # only the project: libraries are not followed, and no output folder (dvclive/, data/) passes for one
    others = [d.name for d in REPO.iterdir() if d.is_dir() and d.name not in ("pipeline", "stages", "spiders")]
    finder = modulefinder.ModuleFinder(path=[str(REPO)], excludes=others)
    finder.run_script(str(REPO / (module.replace(".", "/") + ".py")))
    files = {Path(m.__file__).resolve() for m in finder.modules.values() if m.__file__}
    # empty package markers (pipeline/__init__.py) decide nothing
    return {f.relative_to(REPO) for f in files if f.is_relative_to(REPO) and f.stat().st_size}


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_module_a_stage_imports_is_a_dep(name):
    stage = STAGES[name]
    module = re.search(r"-m (stages\.\w+)", stage["cmd"]).group(1)
    deps = [Path(d) for d in stage["deps"]]
    files = project_files(module)
    assert Path(module.replace(".", "/") + ".py") in files
    missing = sorted(str(f) for f in files if not any(f == d or f.is_relative_to(d) for d in deps))
    assert not missing, f"{name}: add to its deps in dvc.yaml: {missing}"
    stale = sorted(str(d) for d in deps if d.suffix == ".py" and d not in files)
    assert not stale, f"{name}: it imports none of these deps, each a needless rerun: {stale}"
    outs = {Path(next(iter(o)) if isinstance(o, dict) else o) for s in STAGES.values()
            for kind in ("outs", "metrics", "plots") for o in s.get(kind, [])}
    assert all((REPO / d).exists() for d in deps if d not in outs), "a code dep that does not exist"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_params_key_a_stage_lists_exists(name):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for key in STAGES[name].get("params", []):
        node = params
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{name}: params key {key} is not in params.yaml"
            node = node[part]
