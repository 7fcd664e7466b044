"""The shape every stage copies: files under 400 lines, functions under 80 (drawing code excepted)."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import REPO

FOLDERS = ("pipeline", "spiders", "stages")
# The sample corpus's drawing code paints one figure or background in one long, linear function: splitting
# it would scatter one picture's geometry over many names without making any piece reusable.
DRAWING = {"pipeline/samplebooru/characters.py", "pipeline/samplebooru/backgrounds.py"}
SOURCES = sorted(p for d in FOLDERS for p in (REPO / d).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_files_and_functions_stay_small(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 400, "over 400 lines: split it along its seams"
    if str(path.relative_to(REPO)) in DRAWING:
        return
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.end_lineno - n.lineno + 1 > 80]
    assert not long, f"functions over 80 lines: {long}"


def test_stages_are_thin():
    for path in sorted((REPO / "stages").glob("*.py")):
        assert len(path.read_text().splitlines()) <= 60, f"{path.name}: a stage is a thin CLI over pipeline/"
