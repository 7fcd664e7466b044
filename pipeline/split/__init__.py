"""Leakage-free train/val/test splits, packed in tar shards that DVC moves fast.

``plan`` assigns every line-art pair a split by group (``assign``), never by picture; ``write_shards``
packs them (``pipeline.shardio``, the WebDataset convention); ``leak_report`` checks from the hashes that nothing
crosses; ``split_metrics``/``report`` summarise. Nothing here reads params.yaml or assumes a path.
"""

from pipeline.split.assign import assign, leak_groups
from pipeline.split.build import plan, write_shards
from pipeline.split.config import SPLITS, Ratios, SplitConfig
from pipeline.split.leaks import leak_report, near_picture_edges
from pipeline.split.metrics import report, split_metrics

__all__ = ["SPLITS", "Ratios", "SplitConfig", "assign", "leak_groups", "leak_report", "near_picture_edges", "plan",
           "report", "split_metrics", "write_shards"]
