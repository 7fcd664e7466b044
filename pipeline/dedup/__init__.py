"""Near-duplicate detection: hash once (``hashing``, ``encode``), search many times (``search``, ``cluster``).

``hash_posts`` decodes the raw store's files in parallel, resumable shards (``pipeline.shards``);
``dedup`` turns saved hashes into clusters, kept representatives and families under a ``SearchParams``;
``metrics`` and ``report`` summarise a result. Nothing here reads params.yaml or assumes a path.
"""

from pipeline.dedup.cluster import KEEP_ORDER, dedup
from pipeline.dedup.config import DedupConfig, HashParams, ReportParams, SearchParams
from pipeline.dedup.encode import hash_posts
from pipeline.dedup.evaluate import pair_scores, sample_truth, truth_metrics
from pipeline.dedup.report import metrics, report

__all__ = ["KEEP_ORDER", "DedupConfig", "HashParams", "ReportParams", "SearchParams", "dedup", "hash_posts",
           "metrics", "pair_scores", "report", "sample_truth", "truth_metrics"]
