"""Evaluation: every model of the train stage over the test split, measured exactly, side by side.

``pictures`` reads the test split's default line variant and brings the sample corpus's part map onto the
same pixels; ``run`` runs the trivial baseline, the L1 baseline and the GAN over them and measures each
picture (``metrics``); ``compare`` says which way each figure is better and what beats what; ``report``
writes the metrics and the page. Nothing here reads params.yaml or assumes a path.
"""

from pipeline.evaluate.compare import BETTER, verdicts
from pipeline.evaluate.config import EvaluateConfig, LineartView
from pipeline.evaluate.evaluation import evaluate
from pipeline.evaluate.pictures import EvalPicture, load_test_pictures, parts_at
from pipeline.evaluate.report import eval_metrics, page, picture_row, picture_table, ranked
from pipeline.evaluate.run import MODELS, load_models, measure, summaries

__all__ = ["BETTER", "MODELS", "EvaluateConfig", "LineartView", "EvalPicture", "eval_metrics", "evaluate", "load_models",
           "measure", "page", "parts_at", "picture_row", "picture_table", "ranked", "summaries", "load_test_pictures",
           "verdicts"]
