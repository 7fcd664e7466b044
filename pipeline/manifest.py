"""Parquet manifests: their schemas, stated once, and atomic, validated, deterministic writes.

A manifest is the contract between two stages. Each ``Manifest`` below is the single definition of its
file name (inside its stage's output folder), its columns and its row order; writers go through
``write_manifest`` (which checks, casts, sorts and writes atomically) and readers through
``read_manifest``. Paths are never spelled elsewhere: ``RAW_POSTS.path(raw_dir)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.store import atomic_path


@dataclass(frozen=True)
class Manifest:
    """One manifest kind: its file name inside the stage's output folder, schema and sort order."""

    file: str
    schema: pa.Schema
    sort_by: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return self.schema.names

    def path(self, folder: Path | str) -> Path:
        return Path(folder) / self.file


# data/raw/posts.parquet: one row per post the crawl met, fetched or not (nothing disappears silently).
RAW_POSTS = Manifest("posts.parquet", pa.schema([
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
]), ("id",))

# data/dedup/hashes.parquet: one row per distinct file (md5) of the raw store, hashed once.
DEDUP_HASHES = Manifest("hashes.parquet", pa.schema([
    ("md5", pa.string()),  # the store's name for the file
    ("path", pa.string()),  # relative to the raw folder
    ("exact_hash", pa.string()),  # md5 of the bytes read ("" when the file is missing)
    ("status", pa.string()),  # ok | unreadable
    ("reason", pa.string()),  # "" when ok, else a key of pipeline.dedup.hashing.REASONS
    ("width", pa.int64()),  # displayed size after EXIF orientation; 0 when unreadable
    ("height", pa.int64()),
    ("format", pa.string()),  # JPEG | PNG | GIF | WEBP ...
    ("lossless", pa.bool_()),
    ("frames", pa.int64()),
    ("phash", pa.string()),  # imagehash pHash, 64 bits as 16 hex digits ("" unless ok)
    ("dhash", pa.string()),  # imagehash dHash, same form
    ("thumb", pa.binary()),  # 12x12 greyscale thumbnail (row-major bytes) for the finer check
    ("phash_mirror", pa.string()),  # pHash and dHash of the picture mirrored left to right
    ("dhash_mirror", pa.string()),
    ("windows", pa.binary()),  # 17 big-endian 64-bit window codes (pipeline.dedup.windows), b"" unless ok
    ("align_thumb", pa.binary()),  # 48x48 greyscale thumbnail for aligning a crop with its original
    ("trim_phash", pa.string()),  # pHash, dHash, 12x12 thumbnail of the content inside uniform margins ("" and
    # b"" when there were none to trim)
    ("trim_dhash", pa.string()),
    ("trim_thumb", pa.binary()),
    ("trim_aspect", pa.float64()),  # the trimmed content's width / height (0 unless trimmed)
]), ("md5",))

# data/dedup/images.parquet: one row per raw post, every one accounted for.
DEDUP = Manifest("images.parquet", pa.schema([
    ("id", pa.int64()),
    ("md5", pa.string()),
    ("path", pa.string()),  # null unless the crawl fetched it
    ("status", pa.string()),  # ok | unreadable | not_fetched
    ("reason", pa.string()),  # "" when ok; a hashing reason; or "crawl:<raw reason>"
    ("exact_hash", pa.string()),
    ("width", pa.int64()),
    ("height", pa.int64()),
    ("lossless", pa.bool_()),
    ("phash", pa.string()),
    ("dhash", pa.string()),
    ("cluster", pa.int64()),  # duplicate cluster: the id of its kept post (own id when alone)
    ("cluster_size", pa.int64()),
    ("keep", pa.bool_()),  # the cluster's kept representative
    ("keep_reason", pa.string()),  # unique | largest_resolution | lossless | higher_score | lower_id | unreadable | not_fetched
    ("join_kind", pa.string()),  # "" | exact (same file) | same_hash | near | near_trimmed | near_mirror |
    # near_window (the path that found it: pipeline.dedup.robust) | label (a reviewer's "same")
    ("join_distance", pa.int64()),  # bits of that path's code to joined_to (null when alone)
    ("join_dhash", pa.int64()),  # dHash bits to joined_to
    ("joined_to", pa.int64()),  # the nearest post it was joined to
    ("family", pa.int64()),  # parent/child family: the smallest id in its parent_id component
    ("split_group", pa.int64()),  # cluster and family together: what the split keeps on one side
]), ("id",))

# data/dedup/pairs.parquet: every candidate pair the search found (distinct hash pairs), judged.
DEDUP_PAIRS = Manifest("pairs.parquet", pa.schema([
    ("md5_a", pa.string()),
    ("md5_b", pa.string()),
    ("phash_distance", pa.int64()),
    ("dhash_distance", pa.int64()),
    ("thumb_corr", pa.float64()),  # 12x12 thumbnails' correlation (flipped: mirror); window: gradient agreement
    ("aspect_change", pa.float64()),  # |log(aspect ratio a / aspect ratio b)|; window pairs: the largest side cut
    ("accepted", pa.bool_()),
    ("kind", pa.string()),  # direct | trimmed | mirror | window: the path that found it (pipeline.dedup.robust)
    ("window_distance", pa.int64()),  # window pairs: code bits to the nearest window; -1 otherwise
    ("aligned_corr", pa.float64()),  # window pairs: correlation of the aligned thumbnails; NaN otherwise
    ("figure_corr", pa.float64()),  # window pairs aligned pixel-exact: correlation inside the figures; NaN otherwise
]), ("md5_a", "md5_b"))

# data/filter/decisions.parquet: one row per dedup row, nothing dropped. Representatives (dedup's kept post
# of each cluster) are decided; the other posts of a cluster follow their representative's decision.
FILTER = Manifest("decisions.parquet", pa.schema([
    ("id", pa.int64()),
    ("md5", pa.string()),
    ("path", pa.string()),  # relative to the raw folder; null unless the crawl fetched it
    ("cluster", pa.int64()),  # dedup cluster: the id of its representative
    ("representative", pa.bool_()),  # dedup's kept post of its cluster: the one this stage decides
    ("decision", pa.string()),  # keep | reject (representatives) | duplicate | unreadable | not_fetched
    ("keep", pa.bool_()),  # goes on to line art: a representative whose decision is keep
    ("reason", pa.string()),  # the first reason that applied ("" when kept): small, clutter, greyscale, ...
    ("reasons", pa.string()),  # every reason that applied, sorted, space-separated ("" when none)
    ("width", pa.int64()),
    ("height", pa.int64()),
    ("decoded_as", pa.string()),  # what was done to an odd file to read it ("" when nothing; null unless decoded)
    ("p_small", pa.float64()),  # the heads' calibrated probabilities, null unless scored
    ("p_clutter", pa.float64()),
    ("figure", pa.float64()),  # the figure's measured share of the picture, null unless measured (palette)
    ("background_ink", pa.float64()),  # mean ink outside the figure, null unless measured
    ("line_figure", pa.float64()),  # the figure found in the ink map alone, where no palette measures (lines)
    ("line_ink", pa.float64()),  # the ink outside that figure (also of a colour comic page)
    ("page_ink", pa.float64()),  # a colour comic page's: background_ink and line_ink's geometric mean
    ("verdicts", pa.string()),  # the human verdicts in force, "target=value" sorted ("" when none)
]), ("id",))

# data/cache/filter/<shard>.parquet: one row per distinct file (md5) the filter looked at, measured once.
FILTER_PIXELS = Manifest("pixels.parquet", pa.schema([
    ("md5", pa.string()),
    ("path", pa.string()),  # relative to the raw folder
    ("status", pa.string()),  # ok | failed
    ("reason", pa.string()),  # "" when ok: too_many_pixels | truncated | not_an_image | exception:<Type>
    ("width", pa.int64()),  # as displayed (EXIF orientation applied); 0 if failed
    ("height", pa.int64()),
    ("frames", pa.int64()),  # frames of an animated file (1 for a still picture)
    ("decoded_as", pa.string()),  # what was done to an odd file: cmyk->rgb, i;16->rgb, p->rgb_over_white, exif6...
    ("colour", pa.float64()),  # pipeline.filter.pixels.FEATURES; null if failed
    ("ink", pa.float64()),  # ink, fill, off_level_fill: grey tones, null above encode.detail_colour (never read)
    ("fill", pa.float64()),
    ("off_level_fill", pa.float64()),
    ("panels", pa.float64()),
    ("panel_cover", pa.float64()),
    ("thumb", pa.binary()),  # the classifier's input: thumb x thumb x 3 uint8, row-major; null if failed
    ("preview", pa.binary()),  # the report's thumbnail: JPEG, long side encode.preview; null if failed
    ("palette", pa.binary()),  # colour levels 0-31, long side encode.palette, margins white (filter.maps.unpack); null if grey
    ("ink_map", pa.binary()),  # ink coverage 0-255 on the same grid (filter.maps.unpack); null if failed
]), ("md5",))

# data/cache/lineart/<shard>.parquet: one row per distinct kept file (md5), made once whatever posts share it.
LINEART_FILES = Manifest("files.parquet", pa.schema([
    ("md5", pa.string()),
    ("path", pa.string()),  # relative to the raw folder
    ("status", pa.string()),  # ok | failed
    ("reason", pa.string()),  # "" when ok, else a key of pipeline.lineart.resize.REASONS or exception:<Type>
    ("source_width", pa.int64()),  # the decoded picture as displayed (EXIF orientation applied); 0 if failed
    ("source_height", pa.int64()),
    ("width", pa.int64()),  # the pair's size at the training resolution; 0 if failed
    ("height", pa.int64()),
    ("color", pa.string()),  # images/<md5[:2]>/<md5>.png relative to the line-art folder; null unless ok
    ("lines", pa.list_(pa.string())),  # one such path per configured variant, in params order; [] unless ok
]), ("md5",))

# data/lineart/pairs.parquet: one row per (kept post, variant), failed ones included with their reason.
# Files are content-addressed PNGs under data/lineart/images/: colour RGB and lines L, of the same size.
LINEART = Manifest("pairs.parquet", pa.schema([
    ("id", pa.int64()),
    ("md5", pa.string()),  # the source file's md5 (the raw store's name for it)
    ("variant", pa.string()),  # a lineart.variants name
    ("method", pa.string()),  # xdog | dilate | adaptive
    ("status", pa.string()),  # ok | failed
    ("reason", pa.string()),  # "" when ok, else machine-readable: not_image, truncated, too_many_pixels, ...
    ("color", pa.string()),  # the colour picture (RGB PNG) relative to the line-art folder; null unless ok
    ("lines", pa.string()),  # the line picture (L PNG, dark lines on white, same size); null unless ok
    ("width", pa.int64()),  # the pair's size: the training resolution (0 if failed)
    ("height", pa.int64()),
    ("source_width", pa.int64()),  # the file as displayed (0 if failed)
    ("source_height", pa.int64()),
]), ("id", "variant"))

# data/split/manifest.parquet: one row per line-art pair, with its split and where it is packed.
SPLIT = Manifest("manifest.parquet", pa.schema([
    ("id", pa.int64()),
    ("md5", pa.string()),  # the post's file
    ("variant", pa.string()),  # the line-art variant of the pair (a lineart.variants name)
    ("split", pa.string()),  # train | val | test
    ("shard", pa.string()),  # e.g. train/shard-00000.tar, relative to the split folder
    ("key", pa.string()),  # the sample's key inside the shard (<id>_<variant>, no dots)
    ("tags", pa.string()),
    ("character", pa.string()),  # the first configured character tag among the tags ("" when none)
    ("group", pa.int64()),  # what stays on one side: least post id of its dedup group + near-pHash component
    ("dedup_group", pa.int64()),  # dedup's split_group
]), ("split", "key"))

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


def to_table(df: pd.DataFrame, manifest: Manifest) -> pa.Table:
    """Check ``df`` has exactly the manifest's columns, cast to its schema, and sort for byte-stable output."""
    schema = manifest.schema
    missing = [n for n in schema.names if n not in df.columns]
    extra = [c for c in df.columns if c not in schema.names]
    if missing or extra:
        raise ValueError(f"manifest columns do not match the schema: missing {missing}, unexpected {extra}")
    df = df[schema.names]
    df = df.sort_values(list(manifest.sort_by), kind="stable")
    return pa.Table.from_pandas(df.reset_index(drop=True), schema=schema, preserve_index=False)


def write_manifest(df: pd.DataFrame, path: Path | str, manifest: Manifest) -> pa.Table:
    """Validate, sort and write ``df`` as Parquet, atomically, with no timestamps in the metadata; the table
    written (what reading the file back gives, without the read)."""
    table = to_table(df, manifest).replace_schema_metadata(None)
    stats = [f.name for f in table.schema if not pa.types.is_binary(f.type)]  # a blob's min and max tell nothing
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=stats)
    return table


def read_manifest(path: Path | str, manifest: Manifest) -> pd.DataFrame:
    """Read a manifest, checking it carries the manifest's columns."""
    table = pq.read_table(path)
    missing = [n for n in manifest.names if n not in table.column_names]
    if missing:
        raise ValueError(f"{path}: not a {manifest.file} manifest, missing columns {missing}")
    return table.select(manifest.names).to_pandas()
