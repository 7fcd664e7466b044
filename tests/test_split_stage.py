"""The split stage on the sample corpus: no true duplicate or family across splits, byte-stable shards."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from pipeline.manifest import DEDUP, LINEART, SPLIT, read_manifest, write_manifest
from pipeline.samplebooru.materialize import write_raw
from pipeline.split import iter_samples
from pipeline.store import atomic_write_bytes, image_relpath
from stages import dedup as dedup_stage
from stages import split as split_stage
from tests.conftest import REPO


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def inputs(corpus, tmp_path_factory) -> Path:
    """A raw store, its dedup, and small colour/line pairs for every kept readable post (stand-in line art)."""
    root = tmp_path_factory.mktemp("split")
    write_raw(corpus, root / "raw")
    assert dedup_stage.main(["--raw", str(root / "raw"), "--out", str(root / "dedup"), "--shards",
                             str(root / "shards"), "--report", str(root / "rd"), "--metrics", str(root / "dm.json"),
                             "--params", str(REPO / "params.yaml"), "--workers", "1"]) == 0
    dedup = read_manifest(DEDUP.path(root / "dedup"), DEDUP)
    rows = []
    for r in dedup[dedup["keep"]].itertuples():
        colour = _png(Image.open(root / "raw" / r.path).convert("RGB").resize((32, 24)))
        line = _png(Image.new("L", (32, 24), 255 - r.id % 7))
        paths = []
        for data in (colour, line):
            rel = image_relpath(hashlib.md5(data).hexdigest(), "png")
            atomic_write_bytes(root / "lineart" / rel, data)
            paths.append(rel)
        for variant in (0, 1):
            rows.append({"id": r.id, "md5": r.md5, "variant": variant, "method": "test", "color_path": paths[0],
                         "line_path": paths[1], "width": 32, "height": 24, "status": "ok", "reason": ""})
    write_manifest(pd.DataFrame(rows), LINEART.path(root / "lineart"), LINEART)
    return root


def run_split(root: Path, out: str) -> Path:
    assert split_stage.main(["--lineart", str(root / "lineart"), "--dedup", str(root / "dedup"), "--raw",
                             str(root / "raw"), "--out", str(root / out), "--report", str(root / f"{out}-report"),
                             "--metrics", str(root / f"{out}.json"), "--params", str(REPO / "params.yaml")]) == 0
    return root / out


def test_no_true_duplicate_group_or_family_crosses_splits(inputs, corpus):
    out = run_split(inputs, "split")
    rows = read_manifest(SPLIT.path(out), SPLIT)
    pictures = rows.drop_duplicates("id")
    truth = pd.DataFrame([{"id": i, "dup": corpus.truth(i).dup_group, "family": corpus.truth(i).family}
                          for i in pictures["id"]]).merge(pictures[["id", "split"]], on="id")
    assert (truth.groupby("dup")["split"].nunique() == 1).all()
    assert (truth.groupby("family")["split"].nunique() == 1).all()
    assert (rows.groupby("id")["split"].nunique() == 1).all()  # both variants of a picture together
    counts = pictures["split"].value_counts()
    biggest = pictures["group"].value_counts().max()
    for s, r in (("train", 0.7), ("val", 0.2), ("test", 0.1)):
        assert abs(counts[s] - r * len(pictures)) <= biggest
    # every row is in its shard, with both images and its metadata
    seen = {}
    for shard in sorted(out.glob("*/shard-*.tar")):
        for key, members in iter_samples(shard):
            assert set(members) == {"color.png", "line.png", "json"}
            seen[key] = shard.relative_to(out).as_posix()
    assert seen == dict(zip(rows["key"], rows["shard"], strict=True))


def test_same_inputs_give_byte_identical_manifest_and_shards(inputs):
    a, b = run_split(inputs, "split-a"), run_split(inputs, "split-b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
