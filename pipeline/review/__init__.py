"""Reviewing reports in a browser: the loopback review server whose clicks become labels, and the filter report.

``python -m pipeline.review`` serves the reports; ``ReviewServer``/``ReviewPaths`` run it from Python;
``filter_report`` writes ``reports/filter/``. Nothing here reads params.yaml or assumes a path.
"""

from pipeline.review.filter_report import filter_report
from pipeline.review.server import ReviewPaths, ReviewServer

__all__ = ["ReviewPaths", "ReviewServer", "filter_report"]
