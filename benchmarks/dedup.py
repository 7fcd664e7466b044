"""Dedup side by side with imagededup (PyPI), one run, same images, same cores.

    .venv/bin/python benchmarks/dedup.py [--posts 1000] [--codes 1000000] [--workers 2]

(a) hashing throughput on the first ``--posts`` sample-corpus files (real sizes): our stage's hashing
    (JPEG draft-mode decode, PNG scanlines straight to the 64x64 picture in C, pHash + dHash + thumbnail,
    ``--workers`` processes; the stage's code, shards written) against imagededup's PHash
    ``encode_images`` with the same number of workers; each tool hashes ``--repeats`` times, the two
    alternating so that a slow spell of a shared machine hits both, and the medians are compared;
(b) all-pairs search over ``--codes`` synthetic 64-bit hashes with planted clusters at the default radius:
    our multi-index search, every planted pair checked, next to brute force (faiss's flat binary index)
    and faiss's IndexBinaryMultiHash, both timed on a sample of queries and scaled to all of them
    (``--brute-queries 0`` runs brute force on every query: several minutes);
(c) pair precision / recall of both tools against the corpus's ground-truth duplicate groups;
(d) with ``--cluster-posts N``: the whole of ``dedup()`` from saved hashes (no pixels) on N synthetic files.

imagededup runs in its own process with a stub ``torchvision`` on its PYTHONPATH (its package imports the
CNN module; only the hashing methods are used). Install the peer with ``pip install -e '.[bench]'`` and
``pip install --no-deps imagededup`` (see pyproject's ``bench`` group).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STUB = '''
class _Any:
    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self


_ANY = _Any()


def __getattr__(name):
    return _ANY
'''


def write_stub(folder: Path) -> Path:
    """A do-nothing ``torchvision`` that satisfies imagededup's import of its CNN module."""
    for sub in ("torchvision", "torchvision/models", "torchvision/transforms"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / sub / "__init__.py").write_text(STUB)
    (folder / "torchvision/models/vision_transformer.py").write_text(STUB)
    return folder


def peer_main(image_dir: str, workers: int, out: str) -> None:
    """Runs inside the peer's process: imagededup PHash encode + find_duplicates at its defaults."""
    from imagededup.methods import PHash

    phasher = PHash(verbose=False)
    t = time.perf_counter()
    encodings = phasher.encode_images(image_dir=image_dir, recursive=True, num_enc_workers=workers)
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    dups = phasher.find_duplicates(encoding_map=encodings)  # default max_distance_threshold=10
    search_seconds = time.perf_counter() - t
    Path(out).write_text(json.dumps({"seconds": seconds, "search_seconds": search_seconds,
                                     "encoded": len(encodings), "duplicates": dups}))


def labels_from_pairs(names: list[str], pairs: list[tuple[str, str]]) -> dict[str, int]:
    """Each name's connected component under ``pairs`` (names outside ``names`` are ignored)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pos = {n: i for i, n in enumerate(names)}
    edges = [(pos[a], pos[b]) for a, b in pairs if a in pos and b in pos]
    a, b = (np.array(x, np.int64) for x in (zip(*edges, strict=True) if edges else ([], [])))
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(names), len(names)))
    labels = connected_components(graph, directed=False)[1]
    return {n: int(labels[i]) for n, i in pos.items()}


def config():
    from pipeline.config import load_section
    from pipeline.dedup import DedupConfig

    return load_section(Path(__file__).resolve().parents[1] / "params.yaml", "dedup", DedupConfig)


def bench_hashing_and_quality(n_posts: int, workers: int, work: Path, repeats: int) -> dict:
    import pandas as pd

    from pipeline.dedup import dedup, hash_posts, pair_scores
    from pipeline.manifest import RAW_POSTS, read_manifest
    from pipeline.samplebooru.corpus import Corpus
    from pipeline.samplebooru.materialize import write_raw

    cfg = config()
    corpus = Corpus(n_posts, seed=0, progress=True)
    raw = work / "raw"
    write_raw(corpus, raw)
    posts = read_manifest(RAW_POSTS.path(raw), RAW_POSTS)
    n_files = posts["md5"].nunique()

    stub = write_stub(work / "stub")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(stub), str(Path(__file__).resolve().parents[1])]))
    ours_runs, peer_runs = [], []
    for k in range(repeats):  # alternate the tools, so that a slow spell of the machine hits both
        t = time.perf_counter()
        hashes = hash_posts(posts, raw, work / f"shards{k}", cfg.hashing, shard_size=cfg.shard_size, workers=workers,
                            progress=False)  # from scratch
        ours_runs.append(time.perf_counter() - t)
        out = work / f"peer{k}.json"
        subprocess.run([sys.executable, __file__, "--peer", str(raw / "images"), "--workers", str(workers),
                        "--peer-out", str(out)], check=True, env=env)
        peer = json.loads(out.read_text())
        peer_runs.append(peer["seconds"])
    ours_s, peer_s = float(np.median(ours_runs)), float(np.median(peer_runs))
    t = time.perf_counter()
    images, _ = dedup(posts, hashes, cfg.search)
    ours_search_s = time.perf_counter() - t

    # (c) both tools scored on the same posts: those whose file decodes (a broken file is no drawing)
    ok = images[images["status"] == "ok"]
    truth = [corpus.truth(i).dup_group for i in ok["id"]]
    ours = pair_scores(ok["cluster"], truth)
    md5s = sorted(set(ok["md5"]))
    name_of = {Path(p).name: Path(p).stem for p in ok["path"]}
    dup = {Path(k).name: [Path(v).name for v in vs] for k, vs in peer["duplicates"].items()}
    peer_pairs = [(name_of[a], name_of[b]) for a, bs in dup.items() for b in bs if a in name_of and b in name_of]
    peer_label = labels_from_pairs(md5s, peer_pairs)
    theirs = pair_scores(ok["md5"].map(peer_label), truth)
    return {
        "posts": n_posts, "files": int(n_files),
        "hash_ours_s": ours_s, "hash_peer_s": peer_s, "hash_ours_runs_s": ours_runs, "hash_peer_runs_s": peer_runs,
        "ours_img_per_s": n_files / ours_s, "peer_img_per_s": peer["encoded"] / peer_s,
        "peer_encoded": peer["encoded"], "hash_speedup": (peer_s / peer["encoded"]) / (ours_s / n_files),
        "search_ours_s": ours_search_s, "search_peer_s": peer["search_seconds"],
        "quality_ours": ours, "quality_peer": theirs,
        "evaluated_posts": int(len(ok)),
        "unreadable": pd.Series(images.loc[images["status"] != "ok", "reason"]).value_counts().to_dict(),
    }


def planted(n: int, radius: int, seed: int = 0):
    """``n`` 64-bit codes: 90% random, 10% members of planted clusters within ``radius`` of a centre."""
    rng = np.random.default_rng(seed)
    n_members = n // 10
    n_random = n - n_members
    codes = rng.integers(0, 2**64 - 1, n_random, dtype=np.uint64, endpoint=True)
    centre = rng.integers(0, n_random, n_members)  # ~1-3 members per planted cluster, up to more
    flips = rng.integers(0, radius + 1, n_members)
    bits = np.zeros(n_members, np.uint64)
    for k in range(radius):  # flip `flips` distinct random bits per member
        pick = rng.integers(0, 64, n_members).astype(np.uint64)
        take = (k < flips) & ((bits >> pick) & np.uint64(1) == 0)
        bits[take] |= np.uint64(1) << pick[take]
    members = codes[centre] ^ bits
    return np.concatenate([codes, members]), centre, np.arange(n_random, n), bits


def bench_search(n: int, radius: int, threads: int, brute_queries: int) -> dict:
    import faiss

    from pipeline.dedup.search import near_pairs, popcount64, unique_codes

    codes, centre, member, bits = planted(n, radius)
    t = time.perf_counter()
    uniq, inv = unique_codes(codes)
    i, j, d = near_pairs(uniq, radius, threads=threads)
    ours_s = time.perf_counter() - t

    found = set((i.astype(np.int64) * len(uniq) + j).tolist())
    a, b = inv[centre], inv[member]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    want = (lo != hi) & (popcount64(bits) <= radius)
    missed = sum((int(x) * len(uniq) + int(y)) not in found for x, y in zip(lo[want], hi[want], strict=True))

    faiss.omp_set_num_threads(threads)
    x = uniq.astype("<u8").view(np.uint8).reshape(-1, 8)
    q = len(uniq) if brute_queries <= 0 else min(brute_queries, len(uniq))
    qsel = np.random.default_rng(1).choice(len(uniq), q, replace=False) if q < len(uniq) else np.arange(q)
    flat = faiss.IndexBinaryFlat(64)
    flat.add(x)
    t = time.perf_counter()
    lims, _, ids = flat.range_search(x[qsel], radius + 1)
    brute_sample_s = time.perf_counter() - t
    # brute force's answer for the sampled queries must be exactly ours for them
    mine = {}
    for p, r in zip(i.tolist(), j.tolist(), strict=True):
        mine.setdefault(p, set()).add(r)
        mine.setdefault(r, set()).add(p)
    disagree = 0
    lims = lims.astype(np.int64)
    for k, qi in enumerate(qsel.tolist()):
        theirs = set(ids[lims[k]:lims[k + 1]].tolist()) - {qi}
        disagree += theirs != mine.get(qi, set())
    mq = min(q, 20_000)
    mh = faiss.IndexBinaryMultiHash(64, 3, 21)
    mh.nflip = radius // 3
    mh.add(x)
    t = time.perf_counter()
    mh.range_search(x[qsel[:mq]], radius + 1)
    mh_sample_s = time.perf_counter() - t
    return {
        "codes": n, "distinct": int(len(uniq)), "radius": radius, "threads": threads, "pairs": int(len(i)),
        "ours_s": ours_s, "planted_pairs": int(want.sum()), "planted_missed": int(missed),
        "brute_queries": int(q), "brute_sample_s": brute_sample_s, "brute_all_s": brute_sample_s * len(uniq) / q,
        "brute_disagreements": int(disagree),
        "multihash_queries": int(mq), "multihash_all_s": mh_sample_s * len(uniq) / mq,
    }


def bench_window_search(n: int, radius: int, seed: int = 0) -> dict:
    """The crop path's search at scale: ``n`` files' 16 window codes against their whole-picture codes
    (``cross_pairs``), with a crop planted for 10 % of the files (its whole code within ``radius`` of one
    of another file's windows): every planted pair must come back."""
    from pipeline.dedup.search import cross_pairs

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64 - 1, (n, 17), dtype=np.uint64, endpoint=True)
    crops = rng.choice(n, n // 10, replace=False)
    origs = (crops + 1 + rng.integers(0, n - 1, len(crops))) % n
    window = rng.integers(1, 17, len(crops))
    flip = np.zeros(len(crops), np.uint64)
    for _ in range(radius):
        flip |= (rng.random(len(crops)) < 0.5).astype(np.uint64) << rng.integers(0, 64, len(crops)).astype(np.uint64)
    codes[crops, 0] = codes[origs, window] ^ flip
    t = time.perf_counter()
    q, i, d = cross_pairs(codes[:, 1:].ravel(), codes[:, 0], radius)
    seconds = time.perf_counter() - t
    found = set(((q // 16) * n + i).tolist())
    planted = int((np.bitwise_count(flip) <= radius).sum())
    missed = sum(int(o) * n + int(c) not in found for o, c, f in zip(origs, crops, flip, strict=True)
                 if int(f).bit_count() <= radius)
    return {"files": n, "queries": n * 16, "radius": radius, "seconds": seconds, "pairs": int(len(q)),
            "planted": planted, "missed": missed}


def synthetic_store(n: int, radius: int, seed: int = 0):
    """RAW_POSTS-like posts and DEDUP_HASHES rows for ``n`` files with planted near copies (``planted``),
    5% more posts that share a file, and 3% with a parent: what ``dedup()`` reads, without pixels."""
    import pandas as pd

    from pipeline.dedup.encode import plain_robust_columns

    rng = np.random.default_rng(seed)
    codes, centre, member, _ = planted(n, radius, seed)
    nf = len(codes)
    dh = rng.integers(0, 2**63, nf, dtype=np.int64).astype(np.uint64)
    dh[member] = dh[centre] ^ np.uint64(1)
    th = rng.integers(0, 256, (nf, 144), dtype=np.uint8)
    th[member] = th[centre]
    md5 = np.char.mod("%032x", np.arange(nf))
    hashes = pd.DataFrame({
        "md5": md5, "path": md5, "exact_hash": md5, "status": "ok", "reason": "",
        "width": rng.integers(500, 2000, nf), "height": rng.integers(500, 2000, nf), "format": "JPEG",
        "lossless": False, "frames": 1, "phash": [f"{c:016x}" for c in codes.tolist()],
        "dhash": [f"{c:016x}" for c in dh.tolist()], "thumb": [t.tobytes() for t in th]})
    hashes = plain_robust_columns(hashes)
    post_md5 = np.concatenate([md5, md5[rng.integers(0, nf, n // 20)]])
    k = len(post_md5)
    posts = pd.DataFrame({"id": np.arange(1, k + 1), "md5": post_md5, "path": post_md5, "status": "ok",
                          "reason": "", "score": rng.integers(0, 50, k),
                          "parent_id": np.where(rng.random(k) < 0.03, rng.integers(1, k, k), 0)})
    return posts, hashes


def bench_clustering(n: int, radius: int, threads: int) -> dict:
    from dataclasses import replace

    from pipeline.dedup import dedup

    posts, hashes = synthetic_store(n, radius)
    search = replace(config().search, phash_radius=radius, threads=threads)
    t = time.perf_counter()
    images, pairs = dedup(posts, hashes, search)
    return {"posts": len(posts), "seconds": time.perf_counter() - t, "pairs": len(pairs),
            "clustered": int((images["cluster_size"] > 1).sum())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--codes", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--radius", type=int, default=None, help="default: params.yaml dedup.phash_radius")
    ap.add_argument("--brute-queries", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=3, help="(a): hashing runs of each tool, alternating; medians")
    ap.add_argument("--search-only", action="store_true", help="run (b) alone")
    ap.add_argument("--cluster-posts", type=int, default=0,
                    help="(d): time dedup() from saved hashes on this many synthetic files (e.g. 1000000)")
    ap.add_argument("--window-files", type=int, default=100_000, help="(b2): files in the crop path's search")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--peer-out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer:
        peer_main(a.peer, a.workers, a.peer_out)
        return
    radius = config().search.phash_radius if a.radius is None else a.radius
    s = bench_search(a.codes, radius, a.workers, a.brute_queries)
    print(f"(b) all pairs within {radius} bits of {s['codes']:,} codes ({s['distinct']:,} distinct), "
          f"{s['threads']} threads: ours {s['ours_s']:.1f} s, {s['pairs']:,} pairs, planted pairs "
          f"{s['planted_pairs'] - s['planted_missed']:,}/{s['planted_pairs']:,} found; brute force (faiss flat) "
          f"{s['brute_all_s']:.0f} s (timed on {s['brute_queries']:,} queries, scaled; "
          f"{s['brute_disagreements']} disagreements) = {s['brute_all_s'] / s['ours_s']:.0f}x; "
          f"faiss IndexBinaryMultiHash {s['multihash_all_s']:.0f} s (scaled from {s['multihash_queries']:,})")
    w = bench_window_search(a.window_files, config().search.window_radius)
    print(f"(b2) crop path: {w['queries']:,} window codes of {w['files']:,} files against their whole codes within "
          f"{w['radius']} bits: {w['seconds']:.1f} s, {w['pairs']:,} pairs, planted crops "
          f"{w['planted'] - w['missed']:,}/{w['planted']:,} found")
    if a.cluster_posts:
        c = bench_clustering(a.cluster_posts, radius, a.workers)
        print(f"(d) clustering {c['posts']:,} posts from saved hashes (search, finer check, clusters, keeps, "
              f"families): {c['seconds']:.1f} s, {c['pairs']:,} candidate pairs, {c['clustered']:,} posts clustered")
    if a.search_only:
        return
    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as tmp:
        q = bench_hashing_and_quality(a.posts, a.workers, Path(tmp), a.repeats)
    qo, qp = q["quality_ours"], q["quality_peer"]
    runs = ", ".join(f"{o:.2f}/{p:.2f}" for o, p in zip(q["hash_ours_runs_s"], q["hash_peer_runs_s"], strict=True))
    print(f"(a) hashing {q['files']} files, {a.workers} workers, median of {a.repeats} alternating runs: ours "
          f"{q['hash_ours_s']:.2f} s ({q['ours_img_per_s']:.0f} img/s), imagededup PHash {q['hash_peer_s']:.2f} s "
          f"({q['peer_img_per_s']:.0f} img/s, {q['peer_encoded']} encoded): {q['hash_speedup']:.1f}x "
          f"(runs, ours/peer s: {runs})")
    print(f"(c) pair precision / recall on {q['evaluated_posts']} decodable posts of {q['posts']}: "
          f"ours {qo['precision']:.3f} / {qo['recall']:.3f} ({qo['correct_pairs']}/{qo['predicted_pairs']} "
          f"predicted, {qo['true_pairs']} true); imagededup PHash (threshold 10) {qp['precision']:.3f} / "
          f"{qp['recall']:.3f} ({qp['correct_pairs']}/{qp['predicted_pairs']} predicted)")
    print(json.dumps({"hashing_quality": q, "search": s, "window_search": w}, indent=1, default=str))


if __name__ == "__main__":
    main()
