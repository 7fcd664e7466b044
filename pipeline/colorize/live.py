"""Rank 0's logs: DVCLive per epoch (``dvc plots``, ``dvc exp show``) and a step log per run.

DVCLive's folder is rebuilt from the checkpoint's history whenever a run starts, so after a kill it holds
exactly the epochs the resumed checkpoint has seen, never an epoch twice or a half-written row; the epoch
grids already drawn are kept. The step log (``steps.jsonl`` beside the checkpoint: step, epoch and the
losses of every step, averaged over ranks) is cut back to the checkpoint's step the same way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image

from pipeline.store import atomic_write_text

GRID = "val_grid"  # images: <live>/plots/images/val_grid/<epoch>.png, DVCLive's per-step image pattern


class EpochLog:
    """A DVCLive run in ``folder`` (no dvc.yaml of its own: the stage's entry declares its plots)."""

    def __init__(self, folder: Path | str, history: list[dict]):
        from dvclive import Live

        folder = Path(folder)
        grids, keep = folder / "plots" / "images" / GRID, folder / f".{GRID}-kept"
        if grids.is_dir():  # Live() clears its plots; the grids of epochs already logged stay
            shutil.rmtree(keep, ignore_errors=True)
            grids.rename(keep)
        self.live = Live(str(folder), resume=False, save_dvc_exp=False, dvcyaml=None, report=None)
        if keep.is_dir():
            grids.parent.mkdir(parents=True, exist_ok=True)
            keep.rename(grids)
            for p in grids.glob("*.png"):
                if not p.stem.isdigit() or int(p.stem) >= len(history):
                    p.unlink()
        for entry in history:
            self._metrics(entry)
            self.live.next_step()

    def _metrics(self, entry: dict) -> None:
        for name, value in entry.items():
            if "/" in name:  # train/..., val/...: the epoch and step counters are DVCLive's own
                self.live.log_metric(name, value)

    def log_epoch(self, entry: dict, grid: Image.Image | None) -> None:
        self._metrics(entry)
        if grid is not None:
            self.live.log_image(f"{GRID}/{self.live.step}.png", grid)
        self.live.next_step()

    def close(self) -> None:
        self.live.end()


class StepLog:
    """Append-only ``steps.jsonl``; ``truncate(step)`` drops the steps a resumed run will do again."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def truncate(self, step: int) -> None:
        kept = [r for r in self.read() if r["step"] <= step]
        atomic_write_text(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))

    def append(self, rows: list[dict]) -> None:
        if rows:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)
                f.flush()

    def read(self) -> list[dict]:
        """The rows written; a last line cut short by a kill is not a row."""
        rows = []
        for line in self.path.read_text().splitlines() if self.path.exists() else []:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        return rows
