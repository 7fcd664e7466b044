"""How far each kind of re-upload moves a perceptual hash: the table of docs/corpus.md.

    LINECOLOR_CACHE=/work/cache_spec6 python -m docs.reupload_distances [--posts 3000] [--seed 0]

prints, per re-upload kind, the 64-bit pHash (``imagehash.phash`` of the decoded file, as
tests/test_corpus.py measures it) distance of each readable re-upload to the first drawing of its group
(count, median, 90th percentile, max), then the distance of each parent/child variant to its parent (the
hard negatives a deduplicator must keep apart). A dedup radius sits between the two rows it must split.
"""

from __future__ import annotations

import argparse
import io
from collections import defaultdict

import imagehash
import numpy as np
from PIL import Image, ImageOps

from pipeline.samplebooru.corpus import Corpus
from pipeline.samplebooru.spec import REUPLOAD_TRANSFORMS, make_spec


def _phash(corpus: Corpus, post_id: int) -> imagehash.ImageHash:
    im = Image.open(io.BytesIO(corpus.file_bytes(post_id)))
    im.load()
    return imagehash.phash(ImageOps.exif_transpose(im).convert("RGB"))


def distances(corpus: Corpus) -> tuple[dict[str, list[int]], list[int]]:
    """pHash distances per re-upload kind (to the group's first drawing) and of children to parents,
    over the posts whose file and whose counterpart's file both decode."""
    ids = {corpus.truth(p.id).index: p.id for p in corpus.posts}
    hashes: dict[int, imagehash.ImageHash] = {}

    def h(post_id: int) -> imagehash.ImageHash:
        if post_id not in hashes:
            hashes[post_id] = _phash(corpus, post_id)
        return hashes[post_id]

    reuploads: dict[str, list[int]] = defaultdict(list)
    variants: list[int] = []
    for p in corpus.posts:
        t = corpus.truth(p.id)
        spec = make_spec(corpus.seed, t.index)
        other = t.dup_group if spec.dup_of is not None else spec.parent_index
        if other is None or t.broken or corpus.truth(ids[other]).broken:
            continue
        d = int(h(p.id) - h(ids[other]))
        if spec.dup_of is not None:
            reuploads[t.transform].append(d)
        else:
            variants.append(d)
    return reuploads, variants


def table(reuploads: dict[str, list[int]], variants: list[int]) -> str:
    """The markdown table: one row per kind, then all re-uploads, then the parent/child pairs."""
    rows = ["| pair | count | min | median | p90 | max |", "|---|---|---|---|---|---|"]

    def row(name: str, ds: list[int]) -> None:
        if ds:
            a = np.array(ds)
            rows.append(f"| {name} | {len(a)} | {a.min()} | {np.median(a):g} | {np.percentile(a, 90):.0f} | "
                        f"{a.max()} |")

    for kind in REUPLOAD_TRANSFORMS:
        row(f"re-upload `{kind}`", reuploads.get(kind, []))
    row("all re-uploads", [d for ds in reuploads.values() for d in ds])
    row("parent/child variant", variants)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    corpus = Corpus(args.posts, seed=args.seed, progress=True)
    print(f"64-bit pHash distances, the first {args.posts} posts of corpus {args.seed}:")
    print(table(*distances(corpus)))


if __name__ == "__main__":
    main()
