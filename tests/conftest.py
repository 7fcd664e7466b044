"""Shared fixtures: the sample corpus is rendered once per machine and cached on disk."""

from __future__ import annotations

import pytest

from pipeline.samplebooru.corpus import Corpus

CORPUS_POSTS = 400
CORPUS_SEED = 0


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    """The first 400 posts of sample corpus 0 (cached under ~/.cache/linecolor, or $LINECOLOR_CACHE)."""
    return Corpus(CORPUS_POSTS, seed=CORPUS_SEED)
