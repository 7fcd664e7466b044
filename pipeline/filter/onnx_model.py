"""``models/classifier.onnx``: the k fold models as one graph, with its thresholds in the metadata.

Inputs ``thumbs`` (N, 3, S, S) float in [0, 1], all of one fold, and ``fold`` (1,) int64; output ``probs``
(N, heads), from the model of that fold (``pipeline.filter.config.fold_of``; ``Scorer`` groups the pictures by
fold): the filter stage's scores are out-of-fold, like the ones calibration saw, at the cost of one model.
The metadata carries the thumbnail size, the heads and the number of folds, so the filter stage never asks
the classifier's params. Its probabilities are one of the heads' scores (``pipeline.filter.scoring``), not
decisions: the thresholds live with the calibrations in ``models/scoring.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd

from pipeline.filter.config import HEADS, fold_of
from pipeline.filter.encode import thumbs_of

META = "linecolor.classifier"  # metadata_props key: JSON {thumb, heads, folds, logits}


def open_session(path: Path | str, threads: int, key: str, what: str) -> tuple[ort.InferenceSession, dict]:
    """A CPU session of one of the filter's networks and its metadata (JSON under ``key``); a clear error
    for a file that is not ``what``."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    if key not in props:
        raise ValueError(f"{path}: not a {what} exported by pipeline.filter (no {key} metadata)")
    return session, json.loads(props[key])


class Scorer:
    """onnxruntime over ``models/classifier.onnx``: ``score(md5s, thumbs)`` -> (N, heads) probabilities."""

    def __init__(self, path: Path | str, threads: int = 1):
        self.session, self.info = open_session(path, threads, META, "classifier")

    def score_rows(self, pixels: pd.DataFrame, batch: int, only: np.ndarray | None = None) -> np.ndarray:
        """(N, heads) CNN probabilities of FILTER_PIXELS rows that all have a thumbnail (status ok); with
        ``only`` (a boolean mask), of those rows alone, NaN for the others."""
        if only is None:
            return self.score(list(pixels["md5"]), thumbs_of(pixels, self.info["thumb"]), batch)
        out = np.full((len(pixels), len(HEADS)), np.nan)
        some = pixels[only]
        out[np.asarray(only, bool)] = self.score(list(some["md5"]), thumbs_of(some, self.info["thumb"]), batch)
        return out

    def score(self, md5s: list[str], thumbs: np.ndarray, batch: int) -> np.ndarray:
        """Each picture through the model of its fold: the pictures of one fold at a time, in batches."""
        folds = np.array([fold_of(m, self.info["folds"]) for m in md5s], np.int64)
        out = np.zeros((len(md5s), len(HEADS)))
        for k in range(self.info["folds"]):
            rows = np.flatnonzero(folds == k)
            for i in range(0, len(rows), batch):
                pick = rows[i:i + batch]
                x = np.ascontiguousarray(thumbs[pick].transpose(0, 3, 1, 2), np.float32) / np.float32(255)
                out[pick] = self.session.run(["probs"], {"thumbs": x, "fold": np.array([k], np.int64)})[0]
        return out
