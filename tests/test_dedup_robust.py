"""The re-upload kinds the direct pHash search cannot see: crops, borders, corner stamps, colour tweaks and
mirrors (``pipeline.dedup.robust``, ``windows``, ``trim``), made with the sample booru's own re-upload
functions from corpus pictures, and the hard negatives they must not swallow."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFilter

from pipeline.dedup import DedupConfig, dedup
from pipeline.dedup.encode import hash_row
from pipeline.dedup.hashing import THUMB_SIZE, corner_tolerant_correlation, thumb_correlation
from pipeline.dedup.robust import figure_agrees
from pipeline.dedup.search import cross_pairs
from pipeline.dedup.windows import ALIGN, WINDOWS, agree_in_place, align, align_exact
from pipeline.margins import content_box
from pipeline.samplebooru import reuploads
from pipeline.samplebooru.spec import make_spec
from tests.conftest import repo_params

CFG = repo_params("dedup", DedupConfig)
# Each kind at the rough end of its range (reuploads.draw's parameter tuples)
KINDS = {
    "crop": (0.09, 0.01, 0.03, 0.08),
    "crop_square": (0.06, 0.06, 0.06, 0.06),
    "frame": (0, 0.08, 0.0, 0.0, 0.0),
    "letterbox": (1, 0.09, 1.0, 1.0, 1.0),
    "overlay": (0, 3, 0.07, 1.0, 0, 0.9, 0.1, 0.5),
    "tone": (0.08, -0.08, 0.09, 0.92),
    "mirror": (),
    "resize": (0.5,),
}
def _pictures(corpus, n: int = 12) -> list[tuple[int, np.ndarray]]:
    """The first ``n`` readable colour originals of the fixture corpus, as RGB arrays."""
    out = []
    for p in corpus.posts:
        t = corpus.truth(p.id)
        spec = make_spec(corpus.seed, t.index)
        if t.broken or spec.dup_of is not None or t.tone != "color" or p.ext != "jpg":
            continue
        out.append((p.id, np.asarray(Image.open(io.BytesIO(corpus.file_bytes(p.id))).convert("RGB"))))
        if len(out) == n:
            break
    return out


def _jpeg(px: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def _copy(kind: str, px: np.ndarray) -> np.ndarray:
    real = {"crop_square": "crop", "frame": "border", "letterbox": "border"}.get(kind, kind)
    h, w = px.shape[:2]
    blank = np.zeros((h, w), bool)
    return reuploads.apply(real, KINDS[kind], px, blank, blank.copy(), np.zeros((h, w), np.uint8))[0]


@pytest.fixture(scope="module")
def joined(corpus, tmp_path_factory):
    """For each kind: the share of copies dedup joins with their original, and whether any two different
    originals (or their copies) ended up together."""
    folder = tmp_path_factory.mktemp("robust")
    files = {}
    for pid, px in _pictures(corpus):
        files[f"{pid}-orig"] = _jpeg(px)
        for kind in KINDS:
            files[f"{pid}-{kind}"] = _jpeg(_copy(kind, px))
    rows = []
    for name, data in files.items():
        (folder / f"{name}.jpg").write_bytes(data)
        rows.append(hash_row((name, f"{name}.jpg"), str(folder), CFG.hashing))
    hashes = pd.DataFrame(rows)
    posts = pd.DataFrame({"id": np.arange(1, len(rows) + 1), "md5": hashes["md5"], "path": hashes["path"],
                          "status": "ok", "reason": "", "score": 0, "parent_id": 0})
    images, pairs = dedup(posts, hashes, CFG.search)
    cluster = dict(zip(hashes["md5"], images["cluster"], strict=True))
    share = {kind: np.mean([cluster[f"{pid}-{kind}"] == cluster[f"{pid}-orig"] for pid, _ in _pictures(corpus)])
             for kind in KINDS}
    owners = images.assign(owner=hashes["md5"].str.split("-").str[0]).groupby("cluster")["owner"].nunique()
    return share, int((owners > 1).sum()), pairs


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_reupload_kind_is_joined_with_its_original(joined, kind):
    share, mixed, _ = joined
    assert share[kind] == 1.0, share
    assert mixed == 0  # no cluster holds two different drawings


def test_the_new_paths_find_what_the_direct_search_cannot(joined):
    pairs = joined[2]
    accepted = pairs[pairs["accepted"]]["kind"].value_counts()
    assert accepted.get("mirror", 0) >= 10 and accepted.get("window", 0) >= 5 and accepted.get("trimmed", 0) >= 1


def test_a_mirror_is_no_duplicate_when_the_switch_says_so(corpus, joined, tmp_path):
    px = _pictures(corpus, 1)[0][1]
    rows = []
    for name, data in (("orig", _jpeg(px)), ("mirror", _jpeg(px[:, ::-1].copy()))):
        (tmp_path / f"{name}.jpg").write_bytes(data)
        rows.append(hash_row((name, f"{name}.jpg"), str(tmp_path), CFG.hashing))
    hashes = pd.DataFrame(rows)
    posts = pd.DataFrame({"id": [1, 2], "md5": hashes["md5"], "path": hashes["path"], "status": "ok",
                          "reason": "", "score": 0, "parent_id": 0})
    on = dedup(posts, hashes, CFG.search)[0]
    off = dedup(posts, hashes, replace(CFG.search, mirror=False))[0]
    assert on["cluster"].nunique() == 1 and off["cluster"].nunique() == 2


def test_parent_child_variants_are_never_merged(corpus, tmp_path):
    """The hard negatives (same characters, background kind and style; another pose or composition),
    through every path at default settings."""
    pairs = [(p.id, p.parent_id) for p in corpus.posts if p.parent_id
             and not corpus.truth(p.id).broken and not corpus.truth(p.parent_id).broken]
    assert len(pairs) >= 20
    ids = sorted({i for pair in pairs for i in pair})
    rows = [hash_row((str(i), corpus.file_path(i).name), str(corpus.folder), CFG.hashing) for i in ids]
    hashes = pd.DataFrame(rows)
    posts = pd.DataFrame({"id": ids, "md5": hashes["md5"], "path": hashes["path"], "status": "ok", "reason": "",
                          "score": 0, "parent_id": 0})
    cluster = dict(zip(ids, dedup(posts, hashes, CFG.search)[0]["cluster"], strict=True))
    assert all(cluster[a] != cluster[b] for a, b in pairs)


def test_cross_pairs_is_exactly_all_pairs_within_the_radius():
    rng = np.random.default_rng(3)
    index = rng.integers(0, 2**63, 2000, dtype=np.uint64)
    queries = index[rng.integers(0, 2000, 3000)]
    for _ in range(10):
        queries ^= (rng.random(3000) < 0.1).astype(np.uint64) << rng.integers(0, 64, 3000).astype(np.uint64)
    q, i, d = cross_pairs(queries, index, 10)
    dist = np.bitwise_count(queries[:, None] ^ index[None, :])
    want_q, want_i = np.nonzero(dist <= 10)
    assert len(q) > 2500 and np.array_equal(q, want_q) and np.array_equal(i, want_i)
    assert np.array_equal(d, dist[want_q, want_i])


def test_trimming_finds_the_same_content_inside_borders_and_plain_margins():
    pic = np.full((100, 80), 255, np.uint8)
    pic[30:70, 25:50] = 40  # a figure on white
    pic[40:45, 30:60] = 120
    framed = np.pad(pic, ((10, 10), (6, 6)), constant_values=0)
    boxed = np.pad(np.pad(pic, ((0, 0), (9, 9)), constant_values=200), ((3, 3), (3, 3)), constant_values=90)
    assert content_box(pic) == (25, 30, 60, 70)
    # one layer of margin grey: a frame gives back the framed picture, white background and all (what its
    # original is hashed as, whole), and a pillarbox inside another frame stays with the picture
    assert content_box(framed) == (6, 10, 6 + 80, 10 + 100)
    assert content_box(boxed) == (3, 3, 3 + 98, 3 + 100)
    white_frame = np.pad(pic, ((4, 4), (4, 4)), constant_values=255)
    assert content_box(white_frame) == (25 + 4, 30 + 4, 60 + 4, 70 + 4)  # a margin of the same grey goes on
    assert content_box(np.full((50, 50), 7, np.uint8)) == (22, 22, 28, 28)  # blank: stops at MIN_KEEP


def test_a_stamp_in_one_corner_does_not_part_a_pair_but_another_picture_stays_apart():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (1, THUMB_SIZE, THUMB_SIZE)).astype(np.uint8)
    b = a.copy()
    b[0, -3:, -4:] = 0  # a dark logo in the bottom-right corner
    other = rng.integers(0, 256, a.shape).astype(np.uint8)
    flat = lambda x: x.reshape(1, -1)  # noqa: E731
    assert thumb_correlation(flat(a), flat(b))[0] < 0.97
    assert corner_tolerant_correlation(flat(a), flat(b))[0] > 0.99
    assert corner_tolerant_correlation(flat(a), flat(other))[0] < 0.5


def test_the_second_look_keeps_a_stamped_copy_of_a_plain_picture_and_parts_another_pose():
    """A small figure on white with a caption stamped in a corner, against another pose in the same place:
    the 48x48 outlines agree with the first and not with the second."""
    pic = np.full((ALIGN, ALIGN), 255, np.uint8)
    pic[20:40, 20:26] = 60  # body
    pic[14:20, 19:27] = 90  # head
    pic[22:24, 26:34] = 60  # an arm out to the right
    pic[24:40:4, 20:26] = 140  # stripes
    stamped = pic.copy()
    stamped[43:46, 2:10] = 170  # a grey caption, bottom left
    other = pic.copy()
    other[22:24, 26:34] = 255
    other[10:22, 14:16] = 60  # the arm raised on the left
    flat = lambda x: x.reshape(1, -1)  # noqa: E731
    assert agree_in_place(flat(pic), flat(stamped), CFG.search.min_aligned_corr, CFG.search.min_aligned_agree)[0]
    assert not agree_in_place(flat(pic), flat(other), CFG.search.min_aligned_corr, CFG.search.min_aligned_agree)[0]


def _figure(arm: str = "right") -> np.ndarray:
    """A small figure on white in a 240 x 200 picture: head, striped body and one arm, edges softened as
    a drawing's are."""
    pic = np.full((240, 200), 255, np.uint8)
    pic[112:152, 80:92] = 60
    pic[100:112, 78:94] = 90
    pic[120:152:8, 80:92] = 140
    if arm == "right":
        pic[116:120, 92:108] = 60
    else:
        pic[92:116, 68:72] = 60
    return np.asarray(Image.fromarray(pic).filter(ImageFilter.GaussianBlur(1.5)))


def _thumb(pic: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(pic).resize((ALIGN, ALIGN), Image.BOX)).reshape(1, ALIGN, ALIGN)


def test_the_pixel_exact_alignment_tells_a_crop_of_a_plain_picture_from_another_figure():
    """On a small figure on white the whole-picture correlation says where the figure is; the pixel-exact
    window (the crop's size in the original's pixels) and the correlation inside the figures say what it is."""
    pic = _figure()
    crop = pic[18:222, 8:184]  # 7.5 % off the top and bottom, 4 % left, 8 % right: nothing resampled
    other = _figure(arm="left")[18:222, 8:184]
    size = np.array([[176 / 200]]), np.array([[204 / 240]])
    start = np.array([WINDOWS[5]])
    s = CFG.search
    corr, agree, figure, box = align_exact(_thumb(pic), _thumb(crop), start, size[0][0], size[1][0])
    assert corr[0] >= s.min_aligned_corr and agree[0] >= s.min_aligned_agree and figure[0] >= s.min_figure_corr
    assert np.allclose(box[0], [0.04, 0.08, 0.075, 0.075], atol=0.02)
    corr, _, figure, _ = align_exact(_thumb(pic), _thumb(other), start, size[0][0], size[1][0])
    assert corr[0] >= s.min_aligned_corr and figure[0] < s.min_figure_corr  # where, yes; what, no


def test_a_crop_that_was_resized_needs_the_free_alignment():
    """A crop shrunk after cutting is no longer pixel-exact: only the alignment free to scale finds it."""
    rng = np.random.default_rng(5)
    pic = np.asarray(Image.fromarray(rng.integers(0, 256, (12, 10)).astype(np.uint8)).resize((100, 120),
                                                                                         Image.BICUBIC))
    crop = np.asarray(Image.fromarray(pic[6:114, 5:95]).resize((63, 76), Image.BOX))  # 90 x 108, then 0.7x
    start = np.array([WINDOWS[0]])
    exact = align_exact(_thumb(pic), _thumb(crop), start, np.array([0.63]), np.array([76 / 120]))
    ratio = np.array([(76 / 63) / (120 / 100)])
    free = align(_thumb(pic), _thumb(crop), start, ratio)
    assert exact[0][0] < CFG.search.min_aligned_corr
    assert free[0][0] > 0.95 and free[1][0] >= CFG.search.min_rescaled_agree


def test_on_a_plain_picture_the_direct_path_looks_inside_the_figures():
    """Another character at the same place on white (the same outline, its dark and light halves the other
    way round) passes the 12x12 check but not the figures' at 48x48; a caption stamped along a corner
    (half the width) does not part a copy."""
    def two_tone(left: int, right: int) -> np.ndarray:
        pic = np.full((240, 200), 255, np.uint8)
        pic[100:160, 84:92], pic[100:160, 92:100] = left, right  # body
        pic[84:100, 84:92], pic[84:100, 92:100] = 240 - left, 260 - right  # head
        return np.asarray(Image.fromarray(pic).filter(ImageFilter.GaussianBlur(1.0)))
    pic, other = two_tone(40, 160), two_tone(160, 40)
    stamped = pic.copy()
    stamped[200:230, 8:96] = 120  # a grey caption, bottom left
    small = lambda x: np.asarray(Image.fromarray(x).resize((THUMB_SIZE, THUMB_SIZE), Image.BOX)).reshape(1, -1)  # noqa: E731
    assert thumb_correlation(small(pic), small(other))[0] >= CFG.search.min_thumb_corr
    flat = lambda x: _thumb(x).reshape(1, -1)  # noqa: E731
    assert not figure_agrees(flat(pic), flat(other), CFG.search)[0]
    assert figure_agrees(flat(pic), flat(stamped), CFG.search)[0]
    assert figure_agrees(flat(pic), flat(pic), CFG.search)[0]
