"""The split's manifest and shards: every line-art pair gets a split, a shard and a key.

``plan`` decides (groups, splits, shard names: no image is read); ``write_shards`` packs the pairs' bytes
into tar shards (``pipeline.shardio``, the WebDataset convention the train stage streams), one folder per
split. Both are deterministic: same inputs, same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pipeline.shardio import SHARD_GLOB, SHARD_PATTERN, ShardWriter
from pipeline.split.assign import assign, leak_groups
from pipeline.split.config import SPLITS, SplitConfig
from pipeline.split.leaks import near_picture_edges


def shard_name(split: str, index: int) -> str:
    return f"{split}/{SHARD_PATTERN.format(index)}"


def character_of(tags: pd.Series, characters: tuple[str, ...]) -> pd.Series:
    """The first of ``characters`` (in their configured order) among each post's tags; "" when none."""
    rank = {c: k for k, c in enumerate(characters)}

    def first(text: str) -> str:
        found = [t for t in str(text).split() if t in rank]
        return min(found, key=rank.__getitem__) if found else ""

    return tags.map(first)


def plan(pairs: pd.DataFrame, dedup: pd.DataFrame, posts: pd.DataFrame, cfg: SplitConfig,
         phash_radius: int) -> pd.DataFrame:
    """The SPLIT manifest rows for ``pairs`` (LINEART rows), grouped by ``dedup`` and near pHashes."""
    pictures = pd.DataFrame({"id": np.unique(pairs["id"].to_numpy(np.int64))})
    d = dedup.set_index("id")
    pictures["dedup_group"] = d["split_group"].reindex(pictures["id"]).to_numpy(np.int64)
    a, b = near_picture_edges(d["phash"].reindex(pictures["id"]).reset_index(drop=True), phash_radius)
    pictures["group"] = leak_groups(pictures["id"].to_numpy(), pictures["dedup_group"].to_numpy(), a, b)
    tags = posts.set_index("id")["tags"].reindex(pictures["id"]).fillna("")
    pictures["tags"] = tags.to_numpy()
    pictures["character"] = character_of(tags, cfg.character_tags).to_numpy()
    # a group's stratum: the character of its first picture (ids are sorted, so: of its key post)
    pictures["split"] = assign(pictures["group"], pictures["character"], cfg.ratios, cfg.seed).to_numpy()
    rows = pairs[["id", "md5", "variant"]].merge(pictures, on="id", how="left")
    rows["key"] = [f"{i:010d}_{v}" for i, v in zip(rows["id"], rows["variant"], strict=True)]  # no dots
    rows = rows.sort_values(["split", "key"], kind="stable").reset_index(drop=True)
    position = rows.groupby("split").cumcount().to_numpy()
    rows["shard"] = [shard_name(s, p // cfg.shard_size) for s, p in zip(rows["split"], position, strict=True)]
    return rows


def write_shards(rows: pd.DataFrame, pairs: pd.DataFrame, lineart_dir: Path | str, out_dir: Path | str,
                 shard_size: int, progress: bool = True) -> dict[str, int]:
    """Pack each split's pairs (``<key>.color.png``, ``<key>.line.png``, ``<key>.json``) into its shards."""
    lineart_dir, out_dir = Path(lineart_dir), Path(out_dir)
    files = pairs.set_index(["id", "variant"])
    bar = tqdm(total=len(rows), desc="split: packing", unit="pair", disable=not progress, mininterval=1.0)
    counts = dict.fromkeys(SPLITS, 0)
    written: list[Path] = []
    try:
        for split, members in rows.groupby("split", sort=True):
            with ShardWriter(out_dir / split, max_samples=shard_size) as w:
                for r in members.itertuples():
                    f = files.loc[(r.id, r.variant)]
                    meta = {"id": int(r.id), "md5": r.md5, "variant": r.variant, "split": r.split,
                            "character": r.character, "tags": r.tags, "group": int(r.group)}
                    w.write(r.key, {"color.png": (lineart_dir / f["color"]).read_bytes(),
                                    "line.png": (lineart_dir / f["lines"]).read_bytes(),
                                    "json": json.dumps(meta, sort_keys=True).encode()})
                    counts[split] += 1
                    bar.update(1)
            written += w.paths
    finally:
        bar.close()
    planned = {out_dir / s for s in rows["shard"].unique()}
    if set(written) != planned:  # the plan and the writer must agree on where every sample is
        raise AssertionError(f"shards written {sorted(written)} differ from the plan {sorted(planned)}")
    for stale in sorted(out_dir.glob(f"*/{SHARD_GLOB}")):  # an earlier run's extra shards: never read again
        if stale not in planned:
            stale.unlink()
    return counts
