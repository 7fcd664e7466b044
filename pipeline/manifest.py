"""Parquet manifests: their schemas, stated once, and atomic, validated, deterministic writes.

A manifest is the contract between two stages. Each schema below is the single definition of its
columns; writers go through ``write_manifest`` (which checks, casts, sorts and writes atomically) and
readers through ``read_manifest``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.store import atomic_path

# data/raw/posts.parquet: one row per post the crawl met, fetched or not (nothing disappears silently).
RAW_POSTS = pa.schema([
    ("id", pa.int64()),
    ("md5", pa.string()),  # the API's `hash` (md5 of the file), lower-case hex
    ("ext", pa.string()),  # jpg | jpeg | png | gif | webp ...
    ("path", pa.string()),  # images/<md5[:2]>/<md5>.<ext>, relative to the raw folder; null unless status == ok
    ("file_size", pa.int64()),  # bytes on disk; null unless status == ok
    ("width", pa.int64()),
    ("height", pa.int64()),
    ("rating", pa.string()),  # normalised: general | sensitive | questionable | explicit
    ("tags", pa.string()),  # space-separated, as published, stripped
    ("parent_id", pa.int64()),  # 0 when unset
    ("score", pa.int64()),  # null when the site sends none
    ("source", pa.string()),
    ("change", pa.int64()),  # unix time of the post's last change (the API's `change`), null if unknown
    ("file_url", pa.string()),  # the URL the file was (or would have been) fetched from
    ("query", pa.string()),  # the first configured query that found the post
    ("status", pa.string()),  # ok | failed | rejected
    ("reason", pa.string()),  # "" when ok, else machine-readable: md5_mismatch, http_404, too_large, ...
    ("fetched_at", pa.string()),  # ISO-8601 UTC time of the final attempt
])

RATING_SPELLINGS = {
    "general": "general", "safe": "general", "s": "general", "g": "general",
    "sensitive": "sensitive", "questionable": "questionable", "q": "questionable",
    "explicit": "explicit", "e": "explicit",
}


def normalise_rating(value: str) -> str:
    """One spelling downstream: old 'safe' and XML letters become the modern names."""
    try:
        return RATING_SPELLINGS[str(value).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown rating {value!r}") from None


def to_table(df: pd.DataFrame, schema: pa.Schema, sort_by: str | list[str] | None = "id") -> pa.Table:
    """Check ``df`` has exactly the schema's columns, cast to it, and sort for byte-stable output."""
    missing = [n for n in schema.names if n not in df.columns]
    extra = [c for c in df.columns if c not in schema.names]
    if missing or extra:
        raise ValueError(f"manifest columns do not match the schema: missing {missing}, unexpected {extra}")
    df = df[schema.names]
    if sort_by is not None:
        df = df.sort_values(sort_by, kind="stable")
    return pa.Table.from_pandas(df.reset_index(drop=True), schema=schema, preserve_index=False)


def write_manifest(df: pd.DataFrame, path: Path | str, schema: pa.Schema,
                   sort_by: str | list[str] | None = "id") -> None:
    """Validate, sort and write ``df`` as Parquet, atomically, with no timestamps in the metadata."""
    table = to_table(df, schema, sort_by).replace_schema_metadata(None)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)


def read_manifest(path: Path | str, schema: pa.Schema) -> pd.DataFrame:
    """Read a manifest, checking it carries the schema's columns."""
    table = pq.read_table(path)
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise ValueError(f"{path}: not a manifest of the expected kind, missing columns {missing}")
    return table.select(schema.names).to_pandas()
