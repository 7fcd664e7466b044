"""Inputs for line-art tests and benchmarks: a raw folder and the filter's decisions for it, written here.

The filter stage decides from tags and pixels; a test may decide from the corpus's truth instead, so line
art is tested on its own: kept = every readable colour illustration. Columns the line-art stage does not
read are filled by type, so the frames stay valid when the filter adds columns to ``FILTER``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline.manifest import FILTER, RAW_POSTS, read_manifest, write_manifest
from pipeline.samplebooru.corpus import Corpus
from pipeline.samplebooru.materialize import write_raw


def fill_value(t: pa.DataType):
    if pa.types.is_integer(t):
        return 0
    if pa.types.is_boolean(t):
        return False
    if pa.types.is_floating(t):
        return float("nan")
    return ""


def decisions_frame(rows: list[dict]) -> pd.DataFrame:
    """A FILTER frame from rows carrying (at least) id, md5, path, keep, width, height."""
    df = pd.DataFrame(rows).reindex(columns=FILTER.names)
    for field in FILTER.schema:
        if field.name not in rows[0]:
            df[field.name] = fill_value(field.type)
    df["decision"] = df["keep"].map({True: "keep", False: "reject"})
    df["representative"] = True
    df["cluster"] = df["id"]
    return df


def readable_colour(corpus: Corpus, post_id: int) -> bool:
    t = corpus.truth(post_id)
    return t.tone == "color" and t.layout == "illustration" and (t.broken is None or t.has_lines)


def write_inputs(corpus: Corpus, raw_dir: Path, filter_dir: Path, post_ids: list[int] | None = None,
                 keep=readable_colour) -> pd.DataFrame:
    """Write a raw folder of ``post_ids`` (all posts by default) and FILTER decisions keeping ``keep``."""
    posts = read_manifest(write_raw(corpus, raw_dir, post_ids), RAW_POSTS)
    rows = [{"id": r.id, "md5": r.md5, "path": r.path, "keep": bool(keep(corpus, r.id)), "width": r.width,
             "height": r.height} for r in posts.itertuples()]
    df = decisions_frame(rows)
    write_manifest(df, FILTER.path(filter_dir), FILTER)
    return df
