"""The sample booru: a procedural corpus with ground truth (``corpus``) served by a loopback HTTP server
that speaks Safebooru's API, quirks included (``server.SampleBooru``; CLI: ``python -m pipeline.samplebooru``).

Submodules are imported explicitly (``from pipeline.samplebooru.server import SampleBooru``) so that
importing the package stays cheap.
"""
