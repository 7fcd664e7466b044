"""Which way each figure is better, and the verdicts ``metrics/eval.json`` states: where the GAN beats the
trivial baseline, and where the L1 baseline beats the GAN (said plainly: L1 training rewards the grey average,
which PSNR and SSIM like)."""

from __future__ import annotations

from pipeline.evaluate.metrics import PART_NAMES

HIGHER, LOWER, NEAR_ONE = "higher", "lower", "closer_to_1"
BETTER = {
    "psnr": HIGHER, "ssim": HIGHER,
    "lab_hist": LOWER,  # total-variation distance of the (a*, b*) histograms
    "colourfulness": NEAR_ONE,  # the output's over the truth's
    **{f"de_{name}": LOWER for name in PART_NAMES},  # mean CIEDE2000 of the part's pixels
    "hair_close": HIGHER, "eyes_close": HIGHER, "hair_and_eyes_close": HIGHER,  # shares within Delta E 10
}


def better(metric: str, a: float, b: float) -> bool:
    """Whether ``a`` is strictly better than ``b`` on ``metric``."""
    way = BETTER[metric]
    if way == NEAR_ONE:
        return abs(a - 1.0) < abs(b - 1.0)
    return a > b if way == HIGHER else a < b


def measured(models: dict[str, dict], names: tuple[str, ...]) -> list[str]:
    """The figures every one of ``names`` has (per-part ones only where there is a part map)."""
    return [m for m in BETTER if all(models[n].get(m) is not None for n in names)]


def verdicts(models: dict[str, dict]) -> dict:
    """``models``: the summaries of ``gan``, ``l1`` and ``trivial`` (``pipeline.evaluate.metrics.summarise``)."""
    beats = {m: better(m, models["gan"][m], models["trivial"][m]) for m in measured(models, ("gan", "trivial"))}
    return {
        "better": {m: BETTER[m] for m in measured(models, tuple(models))},
        "gan_beats_trivial": beats,
        "gan_beats_trivial_everywhere": bool(beats) and all(beats.values()),
        "l1_better_than_gan": [m for m in measured(models, ("gan", "l1"))
                               if better(m, models["l1"][m], models["gan"][m])],
        "gan_better_than_l1": [m for m in measured(models, ("gan", "l1"))
                               if better(m, models["gan"][m], models["l1"][m])],
    }
