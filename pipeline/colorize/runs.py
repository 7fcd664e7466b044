"""The train stage's runs: the trivial baseline, the colorizer, and the L1-only baseline, by the same code.

Each learnt run has its own state folder (``<state>/<run>/``: checkpoint and step log, what a restart
resumes) and DVCLive folder (``<live>/<run>/``). What is trained is decided by the paths given: a model
path for the colorizer, optional ones for the baselines.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

from pipeline.colorize.baselines import fit_trivial
from pipeline.colorize.checkpoint import save_model
from pipeline.colorize.config import TrainConfig
from pipeline.colorize.data import eval_loader, index_split, of_variant
from pipeline.colorize.distributed import barrier, setup, teardown
from pipeline.colorize.train import RunPaths, fit
from pipeline.colorize.validate import evaluate


def _summary(last: dict) -> dict:
    return {"val_l1": last.get("val/l1"), "val_psnr": last.get("val/psnr"), "epochs": last.get("epoch"),
            "steps": last.get("step"), "train_seconds": last.get("seconds")}


def train_with_baselines(cfg: TrainConfig, data: Path, model: Path, state: Path, live: Path,
                         baseline_l1: Path | None = None, baseline_trivial: Path | None = None,
                         val_variant: str | None = None) -> tuple[dict, bool]:
    """Run what the paths ask for; return the metrics (on every rank) and whether this is rank 0.
    Every run is validated on the val samples of line variant ``val_variant`` (``None``: all)."""
    d = setup(cfg.device, cfg.data.workers)
    try:
        out: dict = {}
        if baseline_trivial is not None:
            trivial = fit_trivial(index_split(data / "train"), cfg.baselines.trivial_samples)
            val = of_variant(index_split(data / "val"), val_variant)
            m = evaluate(trivial.predict, eval_loader(val, d.rank, d.world, cfg.data.workers, 1), d)
            if d.main:
                trivial.save(baseline_trivial)
            out["trivial"] = {"val_l1": m["l1"], "val_psnr": m["psnr"], "pictures": trivial.pictures}
        runs = [("colorizer", cfg, model)]
        if baseline_l1 is not None:
            runs.append(("baseline_l1", replace(cfg, mode="l1"), baseline_l1))
        for name, run_cfg, path in runs:
            trainer, last = fit(run_cfg, d, RunPaths(data, state / name, live / name), name, val_variant)
            if d.main:
                save_model(trainer.G, {"mode": run_cfg.mode, "train_config": asdict(run_cfg), "epoch": last["epoch"],
                                       "step": last["step"], "metrics": last}, path)
            out[name] = {"mode": run_cfg.mode, **_summary(last)}
        if "trivial" in out:
            out["beats_trivial"] = out["colorizer"]["val_l1"] < out["trivial"]["val_l1"]
        barrier(d)
        return out, d.main
    finally:
        teardown(d)
