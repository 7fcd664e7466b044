"""How close a colorized picture is to the truth, measured exactly (no pretrained network needed).

FID and LPIPS need pretrained networks that no package here can ship, so the colorizer is measured with
what can be computed from the pixels alone, and more, where the sample corpus knows what each pixel is:

- ``psnr`` and ``ssim`` (SSIM from scikit-image): fidelity; they reward the grey average a model trained on L1 drifts
  to, so they are never read alone;
- ``lab_hist``: the total-variation distance between the (a*, b*) chroma histograms of output and truth
  (0 = same colour distribution, 1 = disjoint): a desaturated output is far from a colourful truth;
- ``colourfulness``: Hasler and Suesstrunk's colourfulness of the output over the truth's (1 = as colourful);
- with a part map: the mean CIEDE2000 of each part's pixels (skin, hair, eyes, outfit, accent, background),
  and whether the hair and the eyes come out within Delta E 10 of the truth (each part's median colour).
"""

from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

PART_NAMES = ("background", "skin", "hair", "eyes", "outfit", "accent")  # the colour parts of PARTS
CLOSE = 10.0  # Delta E within which a part's colour counts as right
PSNR_CAP = 100.0
_BINS = np.linspace(-110, 110, 23)  # a*, b* bins of 10 units


def lab(rgb: np.ndarray) -> np.ndarray:
    return rgb2lab(np.asarray(rgb, np.float64) / 255.0)


def lab_hist_distance(lab_a: np.ndarray, lab_b: np.ndarray) -> float:
    """Total-variation distance of the two pictures' (a*, b*) histograms."""
    def hist(x: np.ndarray) -> np.ndarray:
        h, _, _ = np.histogram2d(x[..., 1].ravel(), x[..., 2].ravel(), bins=(_BINS, _BINS))
        return h / max(h.sum(), 1.0)

    return float(0.5 * np.abs(hist(lab_a) - hist(lab_b)).sum())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003): spread and mean of the opponent channels rg and yb."""
    r, g, b = (np.asarray(rgb, np.float64)[..., k] for k in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, capped at PSNR_CAP for identical pictures (so means stay finite)."""
    mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(truth, np.float64)) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * np.log10(255.0**2 / mse))


def picture_metrics(pred: np.ndarray, truth: np.ndarray, parts: np.ndarray | None = None) -> dict:
    """Every figure for one picture: ``pred``/``truth`` HxWx3 uint8, ``parts`` HxW codes of PARTS or None."""
    if pred.shape != truth.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"pred {pred.shape} and truth {truth.shape} must be the same HxWx3")
    lp, lt = lab(pred), lab(truth)
    out = {
        "psnr": psnr(pred, truth),
        "ssim": float(structural_similarity(truth, pred, channel_axis=2, data_range=255)),
        "lab_hist": lab_hist_distance(lp, lt),
        "colourfulness": colourfulness(pred) / max(colourfulness(truth), 1e-6),
    }
    if parts is not None:
        de = deltaE_ciede2000(lt, lp)
        for code, name in enumerate(PART_NAMES):
            m = parts == code
            out[f"de_{name}"] = float(de[m].mean()) if m.any() else float("nan")
        for name in ("hair", "eyes"):
            m = parts == PART_NAMES.index(name)
            out[f"{name}_close"] = (float(deltaE_ciede2000(np.median(lt[m], axis=0), np.median(lp[m], axis=0)))
                                    <= CLOSE) if m.sum() >= 4 else None
    return out


def summarise(rows: list[dict]) -> dict:
    """Means over pictures (parts: over the pictures that have the part); shares of hair/eyes within 10."""
    out: dict[str, float | int | None] = {"pictures": len(rows)}
    keys = sorted({k for r in rows for k in r})
    for k in keys:
        vals = [r[k] for r in rows if r.get(k) is not None and not (isinstance(r[k], float) and np.isnan(r[k]))]
        if k.endswith("_close"):
            out[k] = round(float(np.mean(vals)), 4) if vals else None
            out[f"{k}_pictures"] = len(vals)
        else:
            out[k] = round(float(np.mean(vals)), 4) if vals else None
    both = [r["hair_close"] and r["eyes_close"] for r in rows
            if r.get("hair_close") is not None and r.get("eyes_close") is not None]
    if both:
        out["hair_and_eyes_close"] = round(float(np.mean(both)), 4)
    return out
