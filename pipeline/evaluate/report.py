"""What an evaluation says: ``metrics/eval.json`` (the models side by side, and the verdicts) and
``reports/evaluate/index.html`` (the figures, then grids line | trivial | L1 | GAN | truth, worst first)."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from PIL import Image

from pipeline import report as html
from pipeline.evaluate.compare import BETTER, HIGHER, LOWER, verdicts
from pipeline.evaluate.config import EvaluateConfig
from pipeline.evaluate.pictures import EvalPicture
from pipeline.evaluate.run import LABELS, MODELS, summaries

WHOLE, OWN = "whole training pictures (no truth of their geometry)", "the pictures' own pixels (padding cut off)"


def eval_metrics(rows: list[dict], variant: str, truth: bool) -> dict:
    """metrics/eval.json: each model's summary, which way each figure is better, and the verdicts."""
    models = summaries(rows)
    return {"models": models, **verdicts(models), "variant": variant, "truth": truth,
            "measured_on": OWN if truth else WHOLE}


def ranked(rows: list[dict], cfg: EvaluateConfig) -> list[str]:
    """Keys to show: the GAN's ``worst`` by ``rank_by`` first, then ``spread`` more at evenly spaced ranks.
    Pictures without the figure (no such part) come last."""
    way = BETTER[cfg.rank_by]
    gan = [r for r in rows if r["model"] == "gan"]

    def worse_first(r: dict) -> tuple[float, str]:
        v = r.get(cfg.rank_by)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return math.inf, r["key"]
        bad = {HIGHER: float(v), LOWER: -float(v)}.get(way, -abs(float(v) - 1.0))
        return bad, r["key"]

    keys = [r["key"] for r in sorted(gan, key=worse_first)]
    worst, rest = keys[:cfg.worst], keys[cfg.worst:]
    if rest and cfg.spread:
        picks = np.linspace(0, len(rest) - 1, min(cfg.spread, len(rest))).round().astype(int)
        worst += [rest[i] for i in sorted(set(picks.tolist()))]
    return worst


def _png(a: np.ndarray) -> io.BytesIO:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    buf.seek(0)
    return buf


def _fmt(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _lines(f: dict) -> list[str]:
    out = [f"SSIM {_fmt(f['ssim'])} · hist {_fmt(f['lab_hist'], 2)} · colour x{_fmt(f['colourfulness'], 2)}"]
    if "de_hair" in f:
        out.append(f"ΔE hair {_fmt(f['de_hair'], 1)} · eyes {_fmt(f['de_eyes'], 1)} · skin {_fmt(f['de_skin'], 1)}")
    return out


def picture_row(pic: EvalPicture, outputs: dict[str, np.ndarray], figures: dict[str, dict], size: int) -> html.Html:
    """line | each model's colouring with its figures | truth, on the measured pixels."""
    figs = [html.figure(_png(pic.measured(pic.line)), f"{pic.key} line", size)]
    for name in MODELS:
        f = figures[name]
        figs.append(html.figure(_png(pic.measured(outputs[name])), f"{LABELS[name]}: PSNR {_fmt(f['psnr'], 2)} dB",
                                size, lines=_lines(f)))
    figs.append(html.figure(_png(pic.measured(pic.color)), "truth", size))
    return html.row(figs)


def figures_table(m: dict) -> html.Html:
    rows = []
    for metric, way in m["better"].items():
        beats = m["gan_beats_trivial"].get(metric)
        rows.append((metric, way.replace("_", " "), *(_fmt(m["models"][k].get(metric), 4) for k in MODELS),
                     "yes" if beats else "NO" if beats is not None else "-",
                     "yes" if metric in m["l1_better_than_gan"] else ""))
    return html.table(["figure", "better", *(LABELS[k] for k in MODELS), "GAN beats trivial", "L1 beats GAN"], rows)


def _said(names: list[str]) -> str:
    return ", ".join(names) if names else "no figure"


def page(m: dict, shown: list[html.Html], cfg: EvaluateConfig) -> str:
    beaten = [k for k, v in m["gan_beats_trivial"].items() if not v]
    verdict = ("The GAN beats the trivial baseline on every figure." if not beaten else
               f"The GAN does NOT beat the trivial baseline on: {', '.join(beaten)}.")
    honest = (f"The L1 baseline is better than the GAN on {_said(m['l1_better_than_gan'])}; the GAN is better "
              f"on {_said(m['gan_better_than_l1'])}. L1 training drifts to the average colour, which PSNR and "
              "SSIM reward; the Lab histogram distance and colourfulness show how much colour a model dares.")
    n = m["models"]["gan"]["pictures"] if "gan" in m["models"] else 0
    intro = (f"{n} test pictures (line variant {m['variant']}), measured on {m['measured_on']}. {verdict} {honest} "
             "FID and LPIPS are absent: both need pretrained networks whose weights no package here ships "
             "(README, Evaluate).")
    sections = [("Figures", figures_table(m)),
                (f"Pictures, the GAN's worst {cfg.rank_by} first: line | trivial | L1 | GAN | truth",
                 html.join(shown) if shown else html.el("p", "no pictures"))]
    return html.page("Evaluation", sections, intro)


def picture_table(rows: list[dict]) -> pd.DataFrame:
    """Every (picture, model) row, for reports/evaluate/pictures.csv."""
    return pd.DataFrame(rows).sort_values(["key", "model"], kind="stable").reset_index(drop=True)
