"""A raw folder without crawling: the corpus's files in the store layout plus the ``RAW_POSTS`` manifest.

What the crawl stage would write after fetching every post of the corpus: status ``ok`` rows (broken files
download fine, their md5 matches; they are only undecodable, which is for dedup to find out), files at
``images/<md5[:2]>/<md5>.<ext>``, every write atomic. Tests and benchmarks use it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.manifest import RAW_POSTS, normalise_rating, write_manifest
from pipeline.samplebooru.corpus import Corpus
from pipeline.store import atomic_write_bytes, image_relpath

FETCHED_AT = "2024-01-01T00:00:00Z"  # fixed, so a materialised folder is byte-identical run to run


def write_raw(corpus: Corpus, raw_dir: Path | str, post_ids: list[int] | None = None) -> Path:
    """Write the corpus's posts (or ``post_ids`` of them) into ``raw_dir``; return the manifest path."""
    raw_dir = Path(raw_dir)
    posts = corpus.posts if post_ids is None else [corpus.post(i) for i in post_ids]
    rows = []
    for p in posts:
        rel = image_relpath(p.md5, p.ext)
        dest = raw_dir / rel
        if not dest.exists():
            atomic_write_bytes(dest, corpus.file_bytes(p.id))
        rows.append({
            "id": p.id, "md5": p.md5, "ext": p.ext, "path": rel, "file_size": p.file_size,
            "width": p.width, "height": p.height, "rating": normalise_rating(p.rating),
            "tags": " ".join(p.tags), "parent_id": p.parent_id, "score": p.score, "source": p.source,
            "change": p.change, "file_url": f"http://samplebooru.invalid/images/{p.directory}/{p.image}",
            "query": "", "status": "ok", "reason": "", "fetched_at": FETCHED_AT,
        })
    manifest = RAW_POSTS.path(raw_dir)
    write_manifest(pd.DataFrame(rows, columns=RAW_POSTS.names), manifest, RAW_POSTS)
    return manifest
