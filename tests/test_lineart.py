"""The lineart stage on the sample corpus: F1 against the true lines, one row per kept post and variant,
failures with reasons, byte-identical re-runs, resume and store repair, the report, the input contract."""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from pipeline.lineart import LineartConfig, lineart
from pipeline.manifest import FILTER, LINEART, read_manifest
from stages import lineart as stage
from tests.conftest import corpus_params, repo_params
from tests.lineart_data import decisions_frame, readable_colour, write_inputs

CFG = repo_params("lineart", LineartConfig)
BROKEN_KEPT = {"truncated": "truncated", "not_image": "not_image", "decompression_bomb": "too_many_pixels"}


def keep(corpus, post_id: int) -> bool:
    """Readable colour illustrations, plus broken files a filter could wrongly keep (each must fail)."""
    t = corpus.truth(post_id)
    return readable_colour(corpus, post_id) or t.broken in BROKEN_KEPT or t.broken == "exif_rotated"


def write_params(path: Path, source: str = "sample", **lineart_over) -> Path:
    params = corpus_params()
    params["crawl"]["source"] = source
    params["lineart"].update(lineart_over)
    path.write_text(yaml.safe_dump(params))
    return path


def run_stage(work: Path, params: Path, out: str = "lineart", workers: int = 2) -> dict:
    args = ["--filter", str(work / "filter"), "--raw", str(work / "raw"), "--out", str(work / out),
            "--shards", str(work / f"shards-{out}"), "--report", str(work / f"report-{out}"),
            "--metrics", str(work / f"metrics-{out}.json"), "--params", str(params), "--workers", str(workers)]
    assert stage.main(args) == 0
    return yaml.safe_load((work / f"metrics-{out}.json").read_text())


@pytest.fixture(scope="module")
def work(corpus, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lineart")
    ids = [p.id for p in corpus.posts[:200]] + [corpus.posts[295].id, corpus.posts[347].id]
    write_inputs(corpus, folder / "raw", folder / "filter", ids, keep=keep)
    write_params(folder / "params.yaml", shard_size=50)  # several shards: a resumed run skips finished ones
    return folder


@pytest.fixture(scope="module")
def run(work) -> dict:
    return run_stage(work, work / "params.yaml")


def test_the_default_method_finds_the_true_lines(run):
    t = run["truth"]
    print(f"lineart truth on {t['pictures']} pictures: default {t['default']} P {t['precision']:.3f} "
          f"R {t['recall']:.3f} F1 {t['f1']:.3f}; " + ", ".join(
              f"{k} F1 {v['f1']:.3f}" for k, v in t["variants"].items()))
    assert t["default"] == CFG.default and t["pictures"] >= 150
    assert t["f1"] >= 0.90 and t["precision"] >= 0.85 and t["recall"] >= 0.85
    assert set(t["variants"]) == {v.name for v in CFG.variants}
    assert all(v["f1"] >= 0.85 for v in t["variants"].values())


def test_one_row_per_kept_post_and_variant_failures_with_reasons(corpus, work, run):
    pairs = read_manifest(LINEART.path(work / "lineart"), LINEART)
    decisions = read_manifest(FILTER.path(work / "filter"), FILTER)
    kept = decisions.loc[decisions["keep"], "id"]
    assert len(pairs) == len(kept) * len(CFG.variants) and set(pairs["id"]) == set(kept)
    for r in pairs.itertuples():
        broken = corpus.truth(r.id).broken
        if broken in BROKEN_KEPT:
            assert (r.status, r.reason) == ("failed", BROKEN_KEPT[broken]) and pd.isna(r.color) and pd.isna(r.lines)
            continue
        assert r.status == "ok" and r.reason == "", (r.id, r.reason)
        with Image.open(work / "lineart" / r.color) as c, Image.open(work / "lineart" / r.lines) as ln:
            assert (c.mode, ln.mode, c.size, ln.size) == ("RGB", "L", (r.width, r.height), (r.width, r.height))
            assert np.median(np.asarray(ln)) == 255, "dark lines on white"
        assert r.width % 32 == 0 and r.height % 32 == 0 and max(r.width, r.height) <= 256
        for rel in (r.color, r.lines):  # content-addressed: named by the md5 of the bytes
            assert Path(rel).stem == hashlib.md5((work / "lineart" / rel).read_bytes()).hexdigest()
    assert run["failed"] == len(BROKEN_KEPT) and run["reasons"] == {v: 1 for v in BROKEN_KEPT.values()}
    turned = pairs[pairs["id"] == corpus.posts[347].id].iloc[0]  # EXIF orientation 3, 6 or 8: the displayed size
    assert (turned.source_width, turned.source_height) == (corpus.posts[347].width, corpus.posts[347].height)


def test_same_params_give_byte_identical_outputs(work, run):
    run_stage(work, work / "params.yaml", out="again", workers=1)
    a, b = (LINEART.path(work / o).read_bytes() for o in ("lineart", "again"))
    assert a == b
    files = sorted(p.relative_to(work / "lineart") for p in (work / "lineart" / "images").rglob("*.png"))
    assert files == sorted(p.relative_to(work / "again") for p in (work / "again" / "images").rglob("*.png"))


def test_a_rerun_resumes_repairs_and_prunes_the_store(work, run):
    out, shards = work / "lineart", work / "shards-lineart"
    manifest = LINEART.path(out).read_bytes()
    first = sorted(shards.glob("*.parquet"))
    pairs = read_manifest(LINEART.path(out), LINEART)
    lost = out / pairs.loc[pairs["status"] == "ok", "lines"].iloc[0]
    lost.unlink()
    stray = out / "images" / "00" / ("0" * 32 + ".png")
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"not ours")
    assert len(first) >= 3
    finished = {p: p.stat().st_mtime_ns for p in first[1:]}
    first[0].unlink()  # as if the run had been killed before its first shard
    run_stage(work, work / "params.yaml")
    assert sorted(shards.glob("*.parquet")) == first
    assert {p: p.stat().st_mtime_ns for p in first[1:]} == finished, "finished shards are read, not redone"
    assert lost.exists() and not stray.exists()
    assert LINEART.path(out).read_bytes() == manifest


def test_the_report_shows_the_worst_first(work, run):
    page = (work / "report-lineart" / "index.html").read_text()
    assert "true lines" in page and page.count("<figure") >= 4 * CFG.report.worst
    caption = re.escape(f"<figcaption>{CFG.default} ({CFG.default_variant.method}) F1 ") + r"([0-9.]+)<"
    f1s = [float(x) for x in re.findall(caption, page)]
    assert len(f1s) == CFG.report.worst + CFG.report.spread
    assert f1s[:CFG.report.worst] == sorted(f1s)[:CFG.report.worst]


def test_without_the_sample_booru_there_is_no_truth(corpus, work, tmp_path):
    shutil.copytree(work / "raw", tmp_path / "raw")
    ids = [p.id for p in corpus.posts[:12]]
    write_inputs(corpus, tmp_path / "raw", tmp_path / "filter", ids)
    m = run_stage(tmp_path, write_params(tmp_path / "params.yaml", source="https://safebooru.org"), workers=1)
    assert "truth" not in m and m["ok"] == m["posts"] > 5
    assert "true lines" not in (tmp_path / "report-lineart" / "index.html").read_text()


def test_the_input_contract_survives_added_filter_columns(corpus, work, tmp_path):
    rows = [{"id": p.id, "md5": p.md5, "path": f"images/{p.md5[:2]}/{p.md5}.{p.ext}", "keep": i != 3,
             "width": p.width, "height": p.height} for i, p in enumerate(corpus.posts[:6])]
    rows[4]["path"] = None  # kept but never fetched: a failed row, not a crash or a silent drop
    decisions = decisions_frame(rows).assign(p_future=0.5, note="added by the filter later")
    pairs = lineart(decisions, work / "raw", tmp_path / "out", tmp_path / "shards", replace(CFG, shard_size=2),
                    progress=False)
    assert len(pairs) == 5 * len(CFG.variants)
    assert set(pairs.loc[pairs["id"] == rows[4]["id"], "reason"]) == {"missing"}
    assert (pairs.loc[pairs["id"] != rows[4]["id"], "status"] == "ok").all()


def test_a_bad_section_is_one_line_and_status_2(work, tmp_path, capsys):
    params = write_params(tmp_path / "p.yaml", default="sketchy")
    code = stage.cli(stage.main, ["--filter", "f", "--raw", "r", "--out", "o", "--shards", "s", "--report", "x",
                                  "--metrics", "m.json", "--params", str(params)])
    assert code == 2 and "default 'sketchy' is not a variant name" in capsys.readouterr().err
