"""The filter: drop what the colorizer cannot learn from, and say why (README "Filter").

- ``decode`` / ``pixels`` / ``encode``: every representative measured once on the sharded map (pixel
  statistics and a thumbnail), saved so that rules re-decide without decoding;
- ``model`` / ``train`` / ``calibrate`` / ``classifier`` / ``onnx_export``: the CNN for "character too
  small" and "too cluttered", trained out-of-fold on tag weak labels and human verdicts, calibrated by the
  verdicts, exported as one ONNX graph that ``onnx_model.Scorer`` runs with onnxruntime;
- ``decide``: rules, scores and verdicts -> one FILTER row per dedup row;
- ``truth``: precision and recall of every reason against the sample corpus's truth (measuring only).

Submodules are imported explicitly: ``pipeline.filter.decide`` needs neither torch nor onnxruntime, and the
filter stage's modules never import torch or onnx (their settings are in ``config``, the export apart).
"""
