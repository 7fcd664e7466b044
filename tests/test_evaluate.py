"""The evaluate stage: every model over the test split, the part map on the right pixels, honest verdicts.

The split is a stand-in made by the line-art stage's own code from the first posts of the sample corpus
(benchmarks/corpus_shards.py ``write_lineart_split``) at a small training resolution; the models are the
train stage's, tiny (conftest ``tiny_models``).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import cv2
import numpy as np
import pytest
import yaml

from benchmarks.corpus_shards import write_lineart_split
from pipeline.config import ConfigError, load_keys, load_section
from pipeline.evaluate import BETTER, LineartView, load_test_pictures, measure, summaries, verdicts
from pipeline.evaluate.compare import better
from pipeline.evaluate.run import load_models
from pipeline.lineart.config import LineartConfig
from pipeline.samplebooru.corpus import PARTS, Corpus
from pipeline.samplebooru.spec import CAST_BY_NAME
from stages import evaluate as evaluate_stage
from tests.conftest import CORPUS_SEED, REPO
from tests.test_parts import _segment_distance

POSTS = 120  # of corpus 0: about 80 colour illustrations, 9 of them in the test split
LONG_SIDE = 128


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_models):
    tmp = tmp_path_factory.mktemp("evaluate")
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["lineart"]["resize"]["long_side"] = LONG_SIDE
    data["samplebooru"].update(posts=POSTS, seed=CORPUS_SEED)
    data["crawl"]["source"] = "sample"
    params = tmp / "params.yaml"
    params.write_text(yaml.safe_dump(data))
    cfg = load_section(params, "lineart", LineartConfig)
    counts = write_lineart_split(Corpus(POSTS, seed=CORPUS_SEED), tmp / "split", cfg, shard_samples=16)
    return tmp, params, counts


def _run(tmp, params, tiny_models, name):
    out = tmp / name
    args = ["--data", str(tmp / "split"), "--colorizer", str(tiny_models["colorizer"]), "--baseline-l1",
            str(tiny_models["baseline_l1"]), "--baseline-trivial", str(tiny_models["baseline_trivial"]),
            "--report", str(out / "report"), "--metrics", str(out / "eval.json"), "--params", str(params)]
    assert evaluate_stage.main(args) == 0
    return json.loads((out / "eval.json").read_text()), (out / "report" / "index.html").read_text(), out


def test_the_stage_measures_every_model_side_by_side_with_per_part_figures(setup, tiny_models):
    tmp, params, counts = setup
    m, page, out = _run(tmp, params, tiny_models, "sample")
    assert set(m["models"]) == {"trivial", "l1", "gan"} and m["truth"] is True and m["variant"] == "xdog"
    for summary in m["models"].values():
        assert summary["pictures"] == counts["test"] >= 5  # the default variant only, each picture once
        assert {"psnr", "ssim", "lab_hist", "colourfulness", "de_hair", "de_eyes", "de_skin", "hair_close",
                "eyes_close", "hair_and_eyes_close"} <= set(summary)
    assert set(m["better"]) == {k for k in BETTER if m["models"]["gan"].get(k) is not None}
    for metric, beats in m["gan_beats_trivial"].items():  # the verdicts follow from the figures, both ways
        assert beats == better(metric, m["models"]["gan"][metric], m["models"]["trivial"][metric])
    assert m["gan_beats_trivial_everywhere"] == all(m["gan_beats_trivial"].values())
    assert sorted(m["l1_better_than_gan"]) == [k for k in sorted(m["better"])
                                               if better(k, m["models"]["l1"][k], m["models"]["gan"][k])]
    assert sorted(m["gan_better_than_l1"]) == [k for k in sorted(m["better"])
                                               if better(k, m["models"]["gan"][k], m["models"]["l1"][k])]
    csv = (out / "report" / "pictures.csv").read_text().splitlines()
    assert len(csv) == 1 + 3 * counts["test"]
    # grids worst first: the GAN's PSNR never falls along the worst ones; five figures per row
    gan = [float(x) for x in re.findall(r"<figcaption>GAN: PSNR ([0-9.]+) dB</figcaption>", page)]
    assert len(gan) == counts["test"] and gan == sorted(gan)
    assert page.count("<figcaption>truth</figcaption>") == counts["test"]
    assert "FID and LPIPS are absent" in page and "The L1 baseline is better than the GAN on" in page


def test_without_truth_the_whole_pictures_are_measured_and_no_part_figures(setup, tiny_models):
    tmp, params, counts = setup
    data = yaml.safe_load(params.read_text())
    data["crawl"]["source"] = "https://safebooru.org"
    (tmp / "real.yaml").write_text(yaml.safe_dump(data))
    m, _, _ = _run(tmp, tmp / "real.yaml", tiny_models, "real")
    assert m["truth"] is False and "whole training pictures" in m["measured_on"]
    assert not any(k.startswith("de_") or k.endswith("_close") for k in m["models"]["gan"])
    assert m["models"]["gan"]["pictures"] == counts["test"]


def _view(params) -> LineartView:
    return load_keys(params, "lineart", LineartView)


def test_the_part_map_lands_on_the_pictures_pixels(setup):
    """At the training resolution, inside the hair and skin of a single-character picture, the test picture
    shows the character's colour or its shadow tone: the map is scaled and padded as the picture was. Shifted
    by the padding offset or left unscaled, it would not be."""
    tmp, params, _ = setup
    corpus = Corpus(POSTS, seed=CORPUS_SEED)
    view = _view(params)
    good = total = pictures = 0
    for pic in load_test_pictures(tmp / "split", view.default, view.resize, corpus.part_map):
        t = corpus.truth(pic.post_id)
        assert pic.parts.shape == pic.line.shape and pic.parts[pic.box].shape[:2] == pic.measured(pic.color).shape[:2]
        if len(t.characters) != 1:
            continue
        ch = CAST_BY_NAME[t.characters[0]]
        px = pic.color.astype(float)
        for name, rgb in (("hair", ch.hair_rgb), ("skin", ch.skin_rgb)):
            from pipeline.samplebooru.canvas import _shadow_of

            inner = cv2.erode((pic.parts == PARTS.index(name)).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            good += int((_segment_distance(px[inner], rgb, _shadow_of(rgb)) <= 12).sum())
            total += int(inner.sum())
        pictures += 1
    assert pictures >= 3 and total > 500
    assert good / total >= 0.9, good / total  # 0.97 here; 0.60 with the map 3 px off


def test_a_perfect_colorizer_beats_the_trivial_baseline_everywhere(setup, tiny_models):
    """The truth itself as the GAN: perfect figures, and the verdicts name every figure for it."""
    tmp, params, _ = setup
    view = _view(params)
    pics = list(load_test_pictures(tmp / "split", view.default, view.resize, Corpus(POSTS, seed=CORPUS_SEED).part_map))
    truth = {p.line.tobytes(): p.color for p in pics}
    models = load_models(tiny_models["colorizer"], tiny_models["baseline_l1"], tiny_models["baseline_trivial"], 1)
    models["gan"] = lambda line: truth[line.tobytes()]
    s = summaries(measure(pics, models, progress=False))
    assert s["gan"]["psnr"] == 100.0 and s["gan"]["lab_hist"] == 0.0 and s["gan"]["hair_close"] == 1.0
    v = verdicts(s)
    assert v["gan_beats_trivial_everywhere"] and v["l1_better_than_gan"] == []
    assert v["gan_better_than_l1"] == list(v["better"])
    assert verdicts({"gan": s["trivial"], "l1": s["trivial"], "trivial": s["trivial"]})["gan_beats_trivial"] \
        == dict.fromkeys(v["gan_beats_trivial"], False)  # no better than itself


def test_a_split_without_the_default_variant_is_a_clear_error(setup):
    tmp, params, _ = setup
    view = replace(_view(params), default="nonexistent")
    with pytest.raises(ValueError, match="no samples of variant 'nonexistent'"):
        list(load_test_pictures(tmp / "split", view.default, view.resize, None))
    other = replace(view, default="xdog", resize=replace(view.resize, long_side=LONG_SIDE * 2))
    with pytest.raises(ValueError, match="made with other resize params"):
        list(load_test_pictures(tmp / "split", other.default, other.resize, Corpus(POSTS, seed=CORPUS_SEED).part_map))


def test_a_bad_evaluate_section_names_the_key(tmp_path):
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["evaluate"]["rank_by"] = "fid"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    from pipeline.evaluate import EvaluateConfig

    with pytest.raises(ConfigError, match="p.yaml: evaluate: rank_by must be one of"):
        load_section(tmp_path / "p.yaml", "evaluate", EvaluateConfig)
    data["lineart"].pop("resize")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="p.yaml: lineart: missing key 'resize'"):
        load_keys(tmp_path / "p.yaml", "lineart", LineartView)
