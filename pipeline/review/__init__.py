"""Reviewing reports in a browser: the loopback review server whose clicks become labels, and the filter report.

- ``server``: ``ReviewServer``/``ReviewPaths``, what ``python -m pipeline.review`` runs.
- ``guard``: what the server refuses and how a click becomes a line of a labels file (pure functions).
- ``filter_report``: ``reports/filter/`` from the filter's decisions (imported by the filter stage alone, so
  this file re-exports nothing: a stage that writes the report must not depend on the server's code).
- ``browser``: the Chromium the browser tests and ``docs/screenshots.py`` drive.

Nothing here reads params.yaml or assumes a path.
"""
