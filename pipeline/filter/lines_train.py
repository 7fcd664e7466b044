"""Training and export of the line figure network (``pipeline.filter.lines``), in the classifier stage.

Its pictures are the colour illustrations the palette measures (not a panelled page: there the palette
leaves the lines out of the figure on purpose); its input their ink maps, its target the palette's figure
(``Palette.figure``): tags only. Verdicts play no part, so the network is the same for the same pictures,
palette and settings: it is kept in the encoding cache under a digest of all three (``cached``), and a
rerun after new verdicts (the simulated reviewer's rounds, a user's ``dvc repro``) reads it back instead
of training again. Seeded and deterministic on the CPU, like the classifier's CNN.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import torch
import torch.nn.functional as F

from pipeline.filter.config import LinesConfig
from pipeline.filter.lines import META, grid_cover, grid_input, grid_target
from pipeline.filter.maps import unpack
from pipeline.filter.model import LinesNet
from pipeline.filter.palette import Palette
from pipeline.filter.scoring import panelled
from pipeline.store import atomic_path

VERSION = "lines-2"  # part of the cache digest: a change to the network, its training or its targets retrains


def learnt_from(data: pd.DataFrame, palette: Palette, measured: pd.DataFrame) -> np.ndarray:
    """The rows the network learns from: the colour illustrations the palette measures (``measured``,
    ``palette_rows``' rows, has a figure), not a panelled page."""
    return np.flatnonzero(measured["figure"].notna().to_numpy() & ~panelled(data, palette).to_numpy())


def examples(data: pd.DataFrame, rows: np.ndarray, tags: list[set[str]], palette: Palette, side: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, covers) of ``rows``: their ink maps and the palette's figures on the grid."""
    xs, ys, cs = [], [], []
    for k in rows:
        ink = unpack(data["ink_map"].iat[k])
        xs.append(grid_input(ink, side))
        ys.append(grid_target(palette.figure(unpack(data["palette"].iat[k]), ink, tags[k]), side))
        cs.append(grid_cover(ink, side))
    return np.stack(xs), np.stack(ys), np.stack(cs)


def train(x: np.ndarray, y: np.ndarray, cover: np.ndarray, cfg: LinesConfig, progress: bool = True) -> LinesNet:
    """The network fitted to ``y`` (cell figure shares) from ``x`` (ink maps), the padding's cells left out
    of the loss; ``cfg.steps`` steps of ``cfg.batch_size``, each picture mirrored half the time."""
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = LinesNet(cfg.net)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps)
    xt, yt, ct = (torch.from_numpy(a)[:, None] for a in (x, y, cover))
    order, total = np.zeros(0, np.int64), 0.0
    net.train()
    for step in range(cfg.steps):
        while len(order) < cfg.batch_size:
            order = np.concatenate([order, rng.permutation(len(x))])
        idx, order = torch.from_numpy(order[:cfg.batch_size]), order[cfg.batch_size:]
        xb, yb, cb = xt[idx], yt[idx], ct[idx]
        if rng.random() < 0.5:  # a figure's size does not care which way it faces
            xb, yb, cb = xb.flip(3), yb.flip(3), cb.flip(3)
        loss = (F.binary_cross_entropy_with_logits(net(xb), yb, reduction="none") * cb).sum() / cb.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach())
        if progress and ((step + 1) % 100 == 0 or step + 1 == cfg.steps):
            print(f"lines: step {step + 1}/{cfg.steps}, loss {total / min(100, step % 100 + 1):.4f}",
                  file=sys.stderr, flush=True)
            total = 0.0
    return net.eval()


def export(net: LinesNet, out: Path | str, side: int, opset: int = 18) -> None:
    """``figure`` probabilities (N, 1, side/4, side/4) of ``ink`` (N, 1, side, side), a dynamic batch;
    written atomically."""
    model = torch.nn.Sequential(net, torch.nn.Sigmoid()).eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        program = torch.onnx.export(model, (torch.zeros(2, 1, side, side),), dynamo=True, opset_version=opset,
                                    input_names=["ink"], output_names=["figure"],
                                    dynamic_shapes=({0: torch.export.Dim("n", min=1)},), verbose=False)
        program.save(str(raw))
        proto = onnx.load(str(raw))
        proto.metadata_props.add(key=META, value=json.dumps({"side": side}, sort_keys=True))
        onnx.checker.check_model(proto)
        with atomic_path(out) as dest:
            onnx.save(proto, str(dest))


def cached(data: pd.DataFrame, tags: list[set[str]], palette: Palette, measured: pd.DataFrame, cfg: LinesConfig,
           cache_dir: Path | str, out: Path | str, progress: bool = True) -> int:
    """Write the network to ``out``: the one in ``cache_dir`` named by the digest of its pictures' maps,
    palette and settings, or a new one trained (and kept there, the older ones removed). Returns the number
    of pictures it learnt from."""
    rows = learnt_from(data, palette, measured)
    if not len(rows):
        raise ValueError("no colour illustration the palette measures: nothing to train the line figure network on")
    key = json.dumps({"version": VERSION, "config": asdict(cfg), "palette": palette.to_doc(),
                      "maps": _maps_digest(data, rows), "tags": [sorted(tags[k]) for k in rows]}, sort_keys=True)
    kept = Path(cache_dir) / f"lines-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"
    if not kept.exists():
        if progress:
            print(f"lines: training on {len(rows)} colour illustrations", file=sys.stderr, flush=True)
        export(train(*examples(data, rows, tags, palette, cfg.side), cfg, progress), kept, cfg.side)
        for old in Path(cache_dir).glob("lines-*.onnx"):
            if old != kept:
                old.unlink()
    with atomic_path(Path(out)) as dest:
        shutil.copyfile(kept, dest)
    return len(rows)


def _maps_digest(data: pd.DataFrame, rows: np.ndarray) -> str:
    """What the network learns from, bytes and all: each row's md5 and its two maps (with the tags, its
    targets). The same files encoded otherwise (an ink map of other code or ``filter.encode`` settings)
    train a new network, never the one learnt from the old maps."""
    h = hashlib.sha256()
    for col in ("md5", "palette", "ink_map"):
        for v in data[col].to_numpy()[rows]:
            b = v.encode() if isinstance(v, str) else bytes(v)
            h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()
