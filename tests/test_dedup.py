"""The dedup stage on the sample corpus: quality against ground truth, determinism, broken files, resume."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from pipeline.dedup import DedupConfig, dedup, hash_posts, pair_scores
from pipeline.dedup.encode import plain_robust_columns
from pipeline.dedup.hashing import hash_bytes, normalise, open_reduced
from pipeline.dedup.search import hamming
from pipeline.manifest import DEDUP, DEDUP_HASHES, RAW_POSTS, read_manifest
from pipeline.samplebooru.materialize import write_raw
from stages import dedup as stage
from tests.conftest import corpus_params, repo_params

CFG = repo_params("dedup", DedupConfig)
UNDECODABLE = {"truncated": "truncated", "not_image": "not_image", "one_pixel": "too_small",
               "decompression_bomb": "too_many_pixels"}


def run_stage(raw: Path, out: Path, workers: int = 2) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "params.yaml").write_text(yaml.safe_dump(corpus_params()))
    assert stage.main(["--raw", str(raw), "--out", str(out / "dedup"), "--shards", str(out / "shards"),
                "--report", str(out / "report"), "--metrics", str(out / "metrics.json"),
                "--labels", str(out / "no_labels.csv"), "--params", str(out / "params.yaml"),
                "--workers", str(workers)]) == 0
    return out


@pytest.fixture(scope="module")
def raw(corpus, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("raw")
    write_raw(corpus, folder)
    return folder


@pytest.fixture(scope="module")
def result(raw, tmp_path_factory) -> Path:
    return run_stage(raw, tmp_path_factory.mktemp("run1"))


def test_precision_and_recall_against_ground_truth(corpus, result):
    images = read_manifest(DEDUP.path(result / "dedup"), DEDUP)
    ok = images[images["status"] == "ok"]
    # ground truth over the pictures that can be decoded: a broken file is no drawing to match
    scores = pair_scores(ok["cluster"], [corpus.truth(i).dup_group for i in ok["id"]])
    print(f"dedup on the 400-post sample corpus: {scores}")
    assert scores["true_pairs"] >= 30
    assert scores["precision"] >= 0.98
    # corpus spec 6's rougher re-uploads: crops, borders and corner stamps of mostly plain pictures are still
    # missed (0.951 here; issue #17 asks 0.99)
    assert scores["recall"] >= 0.93
    # the stage writes the same figures (truth.*, measuring only) into its metrics
    truth = json.loads((result / "metrics.json").read_text())["truth"]
    assert truth["posts"] == len(ok) and truth["true_pairs"] == scores["true_pairs"]
    assert truth["precision"] == round(scores["precision"], 4) and truth["recall"] == round(scores["recall"], 4)


def test_every_post_has_one_row_and_broken_files_have_reasons(corpus, result):
    images = read_manifest(DEDUP.path(result / "dedup"), DEDUP).set_index("id")
    assert sorted(images.index) == sorted(p.id for p in corpus.posts)
    kinds = {p.id: corpus.truth(p.id).broken for p in corpus.posts}
    assert any(k in UNDECODABLE for k in kinds.values())
    for pid, kind in kinds.items():
        row = images.loc[pid]
        if kind in UNDECODABLE:
            assert (row["status"], row["reason"]) == ("unreadable", UNDECODABLE[kind]), pid
            assert not row["keep"] and row["keep_reason"] == "unreadable"
        else:  # decodable oddities (16-bit PNG, palette transparency, CMYK, EXIF rotation, GIF) are hashed
            assert (row["status"], row["reason"]) == ("ok", ""), (pid, kind)
            assert len(row["phash"]) == 16 and len(row["dhash"]) == 16


def test_byte_identical_outputs_across_runs_and_worker_counts(raw, result, tmp_path):
    again = run_stage(raw, tmp_path, workers=1)
    for rel in ("dedup/images.parquet", "dedup/hashes.parquet", "dedup/pairs.parquet", "report/index.html",
                "metrics.json"):
        assert (again / rel).read_bytes() == (result / rel).read_bytes(), rel


def test_clusters_keep_one_post_by_the_documented_order(result):
    images = read_manifest(DEDUP.path(result / "dedup"), DEDUP)
    ok = images[images["status"] == "ok"]
    multi = ok[ok["cluster_size"] > 1]
    assert multi["cluster"].nunique() >= 10
    for cid, members in multi.groupby("cluster"):
        kept = members[members["keep"]]
        assert len(kept) == 1 and kept["id"].iloc[0] == cid
        area = members["width"] * members["height"]
        assert area.loc[kept.index[0]] == area.max()  # resolution comes first
        assert (members.loc[~members["keep"], "join_kind"] != "").all()
        radius = {"near": CFG.search.phash_radius, "near_mirror": CFG.search.phash_radius,
                  "near_trimmed": CFG.search.trim_radius, "near_window": CFG.search.window_radius}
        near = members[members["join_kind"].isin(list(radius))]
        assert (near["join_distance"].astype(int) <= near["join_kind"].astype(str).map(radius).astype(int)).all()


def test_keep_order_and_reasons_on_a_hand_made_cluster():
    # three posts of one picture (same hashes): a 100x100 JPEG scored 50, the same size as PNG scored 1,
    # a 50x50 PNG scored 99; then a lone post; then a post whose download failed.
    posts = pd.DataFrame({
        "id": [10, 11, 12, 13, 14], "md5": ["a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32],
        "path": ["images/aa/a", "images/bb/b", "images/cc/c", "images/dd/d", None],
        "status": ["ok", "ok", "ok", "ok", "failed"], "reason": ["", "", "", "", "http_404"],
        "score": [50, 1, 99, None, 3], "parent_id": [0, 0, 0, 10, 13],
    })
    thumb = bytes(range(144))
    hashes = pd.DataFrame({
        "md5": ["a" * 32, "b" * 32, "c" * 32, "d" * 32], "path": ["images/aa/a", "images/bb/b", "images/cc/c",
                                                                   "images/dd/d"],
        "exact_hash": ["a" * 32, "b" * 32, "c" * 32, "d" * 32], "status": "ok", "reason": "",
        "width": [100, 100, 50, 80], "height": [100, 100, 50, 80], "format": ["JPEG", "PNG", "PNG", "PNG"],
        "lossless": [False, True, True, True], "frames": 1,
        "phash": ["00000000ffffffff", "00000000ffffffff", "00000000ffffff3f", "ffffffff00000000"],
        "dhash": ["0123456789abcdef"] * 3 + ["fedcba9876543210"],
        "thumb": [thumb, thumb, thumb, bytes(reversed(thumb))],
    })
    hashes = plain_robust_columns(hashes)
    images, pairs = dedup(posts, hashes, CFG.search)
    images = images.set_index("id")
    assert images.loc[[10, 11, 12], "cluster"].tolist() == [11, 11, 11]
    assert images.loc[[10, 11, 12], "keep"].tolist() == [False, True, False]
    # 11 beats 10 (same size) by being lossless, and beats 12 by resolution despite 12's score
    assert images.loc[[10, 11, 12], "keep_reason"].tolist() == ["lossless", "lossless", "largest_resolution"]
    assert images.loc[10, "join_kind"] == "same_hash" and images.loc[12, "join_kind"] == "near"
    assert images.loc[12, "join_distance"] == 2 and images.loc[12, "joined_to"] == 10
    assert images.loc[13, "keep_reason"] == "unique" and images.loc[13, "cluster"] == 13
    assert (images.loc[14, "status"], images.loc[14, "reason"]) == ("not_fetched", "crawl:http_404")
    assert not images.loc[14, "keep"]
    # families follow parent_id (14 -> 13 -> 10); the split group joins them with 10's cluster
    assert images.loc[[10, 13, 14], "family"].tolist() == [10, 10, 10] and images.loc[11, "family"] == 11
    assert set(images["split_group"]) == {10}
    assert pairs["accepted"].all() and len(pairs) == 1  # the same-hash pair is one unit, not a pair


def test_png_and_jpeg_copies_hash_alike_and_draft_decoding_matches_full(corpus):
    far = []
    posts = [p for p in corpus.posts if corpus.truth(p.id).broken is None][:120]
    for p in posts:
        data = corpus.file_bytes(p.id)
        img = Image.open(io.BytesIO(data)).convert("RGB")
        other = io.BytesIO()
        img.save(other, format="PNG" if p.ext == "jpg" else "JPEG", quality=85)
        a, b, full = hash_bytes(data, CFG.hashing), hash_bytes(other.getvalue(), CFG.hashing), hash_bytes(data, CFG.hashing, full=True)
        pa_, pb, pf = (np.array([x.phash], np.uint64) for x in (a, b, full))
        far.append((int(hamming(pa_, pb)[0]), int(hamming(pa_, pf)[0])))
    converted, draft = zip(*far, strict=True)
    print(f"pHash bits, PNG<->JPEG copies: max {max(converted)}; draft vs full decode: max {max(draft)}")
    radius = CFG.search.phash_radius  # copies must land inside the search radius, with room to spare
    assert max(converted) < radius and max(draft) < radius
    assert np.mean(converted) <= 2.0 and np.mean(draft) <= 2.0


def test_every_kind_of_png_normalises_to_the_same_bytes(corpus):
    """Plain 8-bit PNGs take the C scanline path, the rest Pillow: all must give the same picture."""
    pngs = [p for p in corpus.posts if p.ext == "png" and corpus.truth(p.id).broken is None][:6]
    assert len(pngs) == 6
    for k, p in enumerate(pngs):
        rgb = Image.open(io.BytesIO(corpus.file_bytes(p.id))).convert("RGB")
        kinds = {"RGB": rgb, "L": rgb.convert("L"), "RGBA": rgb.convert("RGBA"), "P": rgb.quantize(64)}
        for mode, img in kinds.items():
            buf = io.BytesIO()
            img.save(buf, "PNG", optimize=False, interlace=bool(k % 2))  # Adam7 on every other post
            data = buf.getvalue()
            fast = np.asarray(normalise(open_reduced(data, 10**8, 16)[0]))
            ref = np.asarray(normalise(Image.open(io.BytesIO(data)).convert("L")))
            assert np.array_equal(fast, ref), (p.id, mode)


def test_resume_rehashes_only_missing_shards_and_research_needs_no_pixels(raw, result, tmp_path):
    posts = read_manifest(RAW_POSTS.path(raw), RAW_POSTS)
    shards = tmp_path / "shards"
    first = hash_posts(posts, raw, shards, CFG.hashing, shard_size=100, workers=1, progress=False)
    files = sorted(shards.glob("*.parquet"))
    assert len(files) == 4
    killed = files[2]
    killed.unlink()  # as if the run was killed while hashing shard 2
    (shards / ".tmp-half-written.parquet").write_bytes(b"junk")
    before = {f: f.stat().st_mtime_ns for f in files if f != killed}
    second = hash_posts(posts, raw, shards, CFG.hashing, shard_size=100, workers=1, progress=False)
    assert killed.exists() and not (shards / ".tmp-half-written.parquet").exists()
    assert {f: f.stat().st_mtime_ns for f in before} == before  # finished shards were not redone
    pd.testing.assert_frame_equal(first, second)
    hash_posts(posts.iloc[:150], raw, shards, CFG.hashing, shard_size=100, workers=1, progress=False)
    assert len(list(shards.glob("*.parquet"))) == 2  # a new input's shards replace the old input's
    # saved hashes re-search under a new threshold without the image files
    hashes = read_manifest(DEDUP_HASHES.path(result / "dedup"), DEDUP_HASHES)
    moved = tmp_path / "gone"
    shutil.move(raw / "images", moved)
    try:
        strict, _ = dedup(posts, hashes, replace(CFG.search, phash_radius=0))
        loose, _ = dedup(posts, hashes, CFG.search)
    finally:
        shutil.move(moved, raw / "images")
    assert (strict["cluster_size"] > 1).sum() < (loose["cluster_size"] > 1).sum()


def test_a_file_that_cannot_be_read_gets_a_reason_and_the_run_goes_on(corpus, tmp_path):
    """An I/O error on one file (here: a folder where the file should be) is a row, not a crash."""
    ok = [p for p in corpus.posts if corpus.truth(p.id).broken is None][:3]
    raw = tmp_path / "raw"
    write_raw(corpus, raw, post_ids=[p.id for p in ok])
    posts = read_manifest(RAW_POSTS.path(raw), RAW_POSTS)
    victim = raw / posts["path"].iloc[0]
    victim.unlink()
    victim.mkdir()
    hashes = hash_posts(posts, raw, tmp_path / "shards", CFG.hashing, shard_size=CFG.shard_size, workers=2, progress=False)
    by_md5 = hashes.set_index("md5")
    assert by_md5.loc[posts["md5"].iloc[0], "reason"] == "read_error"
    assert (by_md5.drop(index=posts["md5"].iloc[0])["status"] == "ok").all()
