"""Shared fixtures: the sample corpus is rendered once per machine and cached on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.samplebooru.corpus import Corpus

REPO = Path(__file__).resolve().parents[1]
CORPUS_POSTS = 400
CORPUS_SEED = 0


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    """The first 400 posts of sample corpus 0 (cached under ~/.cache/linecolor, or $LINECOLOR_CACHE)."""
    return Corpus(CORPUS_POSTS, seed=CORPUS_SEED)


def repo_params(section: str, cls: type, **over: object):
    """The repo's params.yaml ``section`` as its config dataclass, with top-level keys replaced by ``over``.

    Tests take their defaults from params.yaml, the one place they live, through the same rule as the stages.
    """
    import yaml

    from pipeline.config import from_mapping

    data = yaml.safe_load((REPO / "params.yaml").read_text())[section]
    return from_mapping(cls, {**data, **over}, f"params.yaml: {section}")


# --- review (#11): reports, review server, browser ---
@pytest.fixture(scope="session")
def review_tree(corpus, tmp_path_factory):
    """A raw store with dedup and filter reports (tests/reviewing.py), built once for the review tests."""
    from tests.reviewing import build_tree

    return build_tree(corpus, tmp_path_factory.mktemp("review"))
