"""Writing ``models/classifier.onnx`` (the classifier stage): the k fold models as one graph, its metadata
for ``pipeline.filter.onnx_model.Scorer``. Apart from the scorer so that scoring needs neither torch nor onnx.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import onnx
import torch

from pipeline.filter.config import HEADS
from pipeline.filter.model import FilterNet, FoldEnsemble
from pipeline.filter.onnx_model import META
from pipeline.store import atomic_path


def export(models: list[FilterNet], out: Path | str, *, thumb: int, use_verdicts: list[bool],
           opset: int = 18) -> None:
    """Write the ensemble with a dynamic batch (atomically: temp file, then rename)."""
    ensemble = FoldEnsemble(models, use_verdicts).eval()
    x, fold = torch.zeros(2, 3, thumb, thumb), torch.zeros(1, dtype=torch.int64)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        n = torch.export.Dim("n", min=1)
        program = torch.onnx.export(ensemble, (x, fold), dynamo=True, opset_version=opset,
                                    input_names=["thumbs", "fold"], output_names=["probs"],
                                    dynamic_shapes=({0: n}, None), verbose=False)
        program.save(str(raw))
        model = onnx.load(str(raw))
        info = {"thumb": thumb, "heads": list(HEADS), "folds": len(models),
                "logits": {h: "verdict" if v else "tag" for h, v in zip(HEADS, use_verdicts, strict=True)}}
        model.metadata_props.add(key=META, value=json.dumps(info, sort_keys=True))
        onnx.checker.check_model(model)
        with atomic_path(out) as dest:
            onnx.save(model, str(dest))
