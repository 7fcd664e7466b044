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


def corpus_params() -> dict:
    """The repo's params.yaml as a dict, its ``samplebooru`` the fixture's corpus: a stage's ``truth.*`` lookup
    then reads the 400 cached posts instead of rendering the demo's corpus."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["samplebooru"] = {"seed": CORPUS_SEED, "posts": CORPUS_POSTS}
    return params


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


# --- evaluate, export, colorize (#15): the train stage's three models, tiny ---
@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """``colorizer``, ``baseline_l1``, ``baseline_trivial`` and ``params``: the train stage run with TINY
    params (U-Net depth 3, factor 8) for 2 epochs on a small synthetic split (tests/colorize_data.py)."""
    from stages import train as train_stage
    from tests.colorize_data import train_params, write_split

    tmp = tmp_path_factory.mktemp("tiny_models")
    data = write_split(tmp / "split", {"train": 16, "val": 4}, size=(48, 64))
    params = train_params(tmp / "params.yaml")
    out = {"colorizer": tmp / "colorizer.pt", "baseline_l1": tmp / "baseline_l1.pt",
           "baseline_trivial": tmp / "baseline_trivial.json", "params": params}
    assert train_stage.main(["--data", str(data), "--out", str(out["colorizer"]), "--baseline-l1",
                             str(out["baseline_l1"]), "--baseline-trivial", str(out["baseline_trivial"]),
                             "--state", str(tmp / "state"), "--live", str(tmp / "live"), "--metrics",
                             str(tmp / "train.json"), "--params", str(params)]) == 0
    return out
