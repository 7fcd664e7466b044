"""Line art: kept colour pictures at the training resolution and their extracted lines, scored against truth.

``lineart`` brings every kept file to the training resolution (``resize``), extracts each configured
variant's lines (``methods``) on the resumable sharded map and writes colour/line PNG pairs into a
content-addressed store (``extract``); ``score_pairs`` and ``truth_metrics`` measure the lines against
the sample corpus's true layer (``truth``); ``metrics`` and ``report`` summarise a run. Nothing here
reads params.yaml or assumes a path.
"""

from pipeline.lineart.config import (
    Adaptive,
    Dilate,
    LineartConfig,
    Methods,
    ReportParams,
    ResizeParams,
    TruthSource,
    Variant,
    XDoG,
)
from pipeline.lineart.extract import lineart
from pipeline.lineart.methods import extract
from pipeline.lineart.report import metrics, report
from pipeline.lineart.resize import REASONS, Geometry, geometry, load_scaled
from pipeline.lineart.truth import score_pairs, true_lines, truth_metrics

__all__ = ["REASONS", "Adaptive", "Dilate", "Geometry", "LineartConfig", "Methods", "ReportParams",
           "ResizeParams", "TruthSource", "Variant", "XDoG", "extract", "geometry", "lineart", "load_scaled",
           "metrics", "report", "score_pairs", "true_lines", "truth_metrics"]
