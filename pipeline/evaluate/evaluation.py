"""One evaluation, end to end: measure every model over the test pictures, then draw the ones to show.

Two passes over the test split: the first measures every picture (nothing but the figures is kept, so a
test split of any size fits in memory); the second decodes and colours again only the pictures the report
shows, the GAN's worst first.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.evaluate.config import EvaluateConfig, LineartView
from pipeline.evaluate.pictures import PartMap, load_test_pictures
from pipeline.evaluate.report import eval_metrics, page, picture_row, picture_table, ranked
from pipeline.evaluate.run import Predict, measure


def evaluate(split_dir: Path | str, models: dict[str, Predict], view: LineartView, cfg: EvaluateConfig,
             part_map: PartMap | None, progress: bool = True) -> tuple[dict, str, pd.DataFrame]:
    """metrics/eval.json's dict, the report page and the per-(picture, model) table."""
    rows = measure(load_test_pictures(split_dir, view.default, view.resize, part_map), models, progress)
    metrics = eval_metrics(rows, view.default, truth=part_map is not None)
    order = ranked(rows, cfg)
    figures = {(r["key"], r["model"]): r for r in rows}
    drawn = {}
    for pic in load_test_pictures(split_dir, view.default, view.resize, part_map, only=set(order)):
        outputs = {name: predict(pic.line) for name, predict in models.items()}
        drawn[pic.key] = picture_row(pic, outputs, {m: figures[(pic.key, m)] for m in models}, cfg.thumb)
    return metrics, page(metrics, [drawn[k] for k in order], cfg), picture_table(rows)
