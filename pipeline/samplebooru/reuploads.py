"""Re-uploads: how a re-uploaded file differs from the first drawing, decided and then applied.

Real re-uploads are rougher than a resize: people crop a picture unevenly, add a frame or letterbox it,
stamp their handle or a site's logo in a corner, "fix" its colours, flip it. Each kind is one pure
function of a tuple of floats (``PostSpec.transform_params``, drawn by ``draw`` from the post's own
re-upload random stream), so a spec stays frozen and hashable and the renderer needs nothing else:

==========  =====================================================  ============================================
kind        params                                                 what the file is
==========  =====================================================  ============================================
resize      (factor,)                                              scaled by 0.45-0.85 (INTER_AREA)
requality   (quality,)                                             JPEG quality 55-85; a PNG re-saved (level 6)
convert     ()                                                     PNG <-> JPEG
crop        (left, right, top, bottom)                             each side cut by U(0, 0.10) of its dimension
border      (style, fraction, r, g, b)                             a solid band of 2-10 % added: a frame (all
                                                                   four sides, ``fraction * min(w, h)``), a
                                                                   letterbox (top and bottom, of ``h``) or a
                                                                   pillarbox (left and right, of ``w``)
overlay     (style, corner, height, alpha, text, r, g, b)          a text or a logo (filled disc + text) in a
                                                                   corner, 4-8 % of the height, opaque or
                                                                   semi-transparent
tone        (brightness, contrast, saturation, gamma)              each changed by up to 10 %, one by >= 4 %
mirror      ()                                                     flipped left to right
==========  =====================================================  ============================================

The truth masks follow the pixels: a crop, border or mirror crops, pads or flips the line mask, the
character mask and the part map (a border is background, part 0, no lines); a resize resamples them.
An overlay is *not* added to the masks: they keep describing the drawing under it (its strokes are no
outline of the drawing, and the line pixels it covers stay marked).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.samplebooru.canvas import BACKGROUND
from pipeline.samplebooru.encoding import resize_mask

BORDER_STYLES = ("frame", "letterbox", "pillarbox")
OVERLAY_STYLES = ("text", "logo")
CORNERS = ("tl", "tr", "bl", "br")
OVERLAY_TEXTS = ("@aoi_fan", "sample", "pixiv.me/kuro", "@tagger42", "booru.example", "@linecolor", "SB")
_SOLID = ((0, 0, 0), (255, 255, 255), (128, 128, 128))  # black, white, mid grey; else a random colour
_FONT = cv2.FONT_HERSHEY_DUPLEX


def _colour(sub: np.random.Generator, grey: bool) -> tuple[float, float, float]:
    """Black, white, mid grey or a random solid colour; on a grey picture its luminance, r = g = b."""
    pick = int(sub.integers(0, 4))
    rgb = _SOLID[pick] if pick < 3 else tuple(int(v) for v in sub.integers(0, 256, 3))
    if grey:
        lum = float(round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]))
        return lum, lum, lum
    return float(rgb[0]), float(rgb[1]), float(rgb[2])


def _tone_params(sub: np.random.Generator, grey: bool) -> tuple[float, float, float, float]:
    """Brightness, contrast, saturation offsets and a gamma: each within 10 %, at least one by 4 % or more
    (a change below that is within what a re-encode does anyway). Grey pictures keep saturation 0."""
    d = sub.uniform(-0.10, 0.10, 4)
    if grey:
        d[2] = 0.0
    allowed = [0, 1, 3] if grey else [0, 1, 2, 3]
    pick, mag, sign = int(sub.integers(0, len(allowed))), sub.uniform(0.04, 0.10), sub.choice([-1.0, 1.0])
    if np.abs(d).max() < 0.04:
        d[allowed[pick]] = sign * mag
    return float(d[0]), float(d[1]), float(d[2]), float(1.0 + d[3])


def draw(sub: np.random.Generator, kind: str, tone: str, factor: float, quality: float) -> tuple[float, ...]:
    """The params of a re-upload of ``kind`` from its own stream ``sub``; ``factor`` and ``quality`` are
    the resize factor and quality spec 5's main stream drew for every re-upload (kept: the same ranges)."""
    grey = tone != "color"
    if kind == "resize":
        return (factor,)
    if kind == "requality":
        return (quality,)
    if kind == "crop":
        return tuple(float(v) for v in sub.uniform(0.0, 0.10, 4))
    if kind == "border":
        style, frac = float(sub.integers(0, len(BORDER_STYLES))), float(sub.uniform(0.02, 0.10))
        return (style, frac, *_colour(sub, grey))
    if kind == "overlay":
        style, corner = float(sub.integers(0, len(OVERLAY_STYLES))), float(sub.integers(0, len(CORNERS)))
        height = float(sub.uniform(0.04, 0.08))
        alpha = 1.0 if sub.random() < 0.5 else float(sub.uniform(0.35, 0.7))
        text = float(sub.integers(0, len(OVERLAY_TEXTS)))
        return (style, corner, height, alpha, text, *_colour(sub, grey))
    if kind == "tone":
        return _tone_params(sub, grey)
    return ()  # convert, mirror


def _hex(rgb) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


def describe(kind: str | None, params: tuple[float, ...]) -> str:
    """``Truth.transform_detail``: the kind and its params in one short readable string ("" if none)."""
    if kind is None:
        return ""
    if kind == "resize":
        return f"resize x{params[0]:.2f}"
    if kind == "requality":
        return f"requality q={int(params[0])}"
    if kind == "crop":
        return "crop " + " ".join(f"{k}={v:.3f}" for k, v in zip("lrtb", params, strict=True))
    if kind == "border":
        return f"border {BORDER_STYLES[int(params[0])]} {params[1]:.2f} {_hex(params[2:5])}"
    if kind == "overlay":
        style, corner, height, alpha = int(params[0]), int(params[1]), params[2], params[3]
        return (f"overlay {OVERLAY_STYLES[style]} {CORNERS[corner]} h={height:.3f} a={alpha:.2f} "
                f"{OVERLAY_TEXTS[int(params[4])]!r} {_hex(params[5:8])}")
    if kind == "tone":
        b, c, s, g = params
        return f"tone b={b:+.2f} c={c:+.2f} s={s:+.2f} g={g:.2f}"
    return kind


def crop_box(params: tuple[float, ...], w: int, h: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the first drawing that a crop keeps."""
    left, right, top, bottom = params
    return round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)


def border_pads(params: tuple[float, ...], w: int, h: int) -> tuple[int, int, int, int]:
    """Pixels added at the top, bottom, left and right of a ``w`` x ``h`` drawing."""
    style, frac = BORDER_STYLES[int(params[0])], params[1]
    if style == "frame":
        band = max(1, round(frac * min(w, h)))
        return band, band, band, band
    if style == "letterbox":
        band = max(1, round(frac * h))
        return band, band, 0, 0
    band = max(1, round(frac * w))
    return 0, 0, band, band


def _overlay_layout(params: tuple[float, ...], w: int, h: int):
    """Font scale, thickness, text, text origin, disc (centre, radius or None) and the box it all fills."""
    style, corner, height = int(params[0]), CORNERS[int(params[1])], params[2]
    text = OVERLAY_TEXTS[int(params[4])]
    target = max(8, round(height * h))
    disc = target if style == 1 else 0  # a logo: a filled disc as tall as the overlay, the text beside it
    text_h = target if style == 0 else max(6, round(0.6 * target))
    (tw, th), base = cv2.getTextSize(text, _FONT, 1.0, 1)
    scale = text_h / (th + base)
    scale = min(scale, (0.45 * w - disc) / max(1, tw))  # never wider than about half the picture
    thick = max(1, round(scale * 1.6))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    bw, bh = disc + (disc // 4 if disc else 0) + tw, max(disc, th + base + thick)
    margin = max(2, round(0.02 * min(w, h)))
    x0 = margin if corner[1] == "l" else w - margin - bw
    y0 = margin if corner[0] == "t" else h - margin - bh
    origin = (x0 + bw - tw, y0 + (bh + th) // 2)
    circle = ((x0 + disc // 2, y0 + bh // 2), disc // 2) if disc else None
    pad = thick + 2  # anti-aliased edges reach a little beyond the glyph boxes
    box = (max(0, x0 - pad), max(0, y0 - pad), min(w, x0 + bw + pad), min(h, y0 + bh + pad))
    return scale, thick, text, origin, circle, box


def overlay_box(params: tuple[float, ...], w: int, h: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of the corner an overlay may change."""
    return _overlay_layout(params, w, h)[5]


def _overlay(px: np.ndarray, params: tuple[float, ...]) -> np.ndarray:
    h, w = px.shape[:2]
    scale, thick, text, origin, circle, _ = _overlay_layout(params, w, h)
    cover = np.zeros((h, w), np.uint8)
    if circle is not None:
        cv2.circle(cover, circle[0], circle[1], 255, -1, cv2.LINE_AA)
    cv2.putText(cover, text, origin, _FONT, scale, 255, thick, cv2.LINE_AA)
    a = (cover.astype(np.float32) / 255 * params[3])
    colour = np.array(params[5:8], np.float32)
    if px.ndim == 2:
        colour, out = colour[:1], px.astype(np.float32)[..., None]
    else:
        out = px.astype(np.float32)
    out = out * (1 - a[..., None]) + colour * a[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(px.shape)


def tone_curve(px: np.ndarray, params: tuple[float, ...]) -> np.ndarray:
    """Gamma, then contrast about mid grey, then brightness, then saturation (about each pixel's luma)."""
    b, c, s, g = params
    x = px.astype(np.float32) / 255
    x = (np.power(x, g) - 0.5) * (1 + c) + 0.5 + b
    if x.ndim == 3 and s:
        luma = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        x = luma + (x - luma) * (1 + s)
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def apply(kind: str | None, params: tuple[float, ...], px: np.ndarray, lines: np.ndarray,
          chars: np.ndarray, parts: np.ndarray):
    """``(px, lines, chars, parts)`` of the re-uploaded file: the pixels transformed, the masks following."""
    h, w = lines.shape
    if kind == "resize":
        size = (max(1, round(w * params[0])), max(1, round(h * params[0])))
        px = cv2.resize(px, size, interpolation=cv2.INTER_AREA)
        lines, chars = resize_mask(lines, size, 100), resize_mask(chars, size, 128)
        parts = cv2.resize(parts, size, interpolation=cv2.INTER_NEAREST)
    elif kind == "crop":
        x0, y0, x1, y1 = crop_box(params, w, h)
        px, lines, chars, parts = (a[y0:y1, x0:x1] for a in (px, lines, chars, parts))
    elif kind == "border":
        top, bottom, left, right = border_pads(params, w, h)
        value = tuple(int(v) for v in params[2:5]) if px.ndim == 3 else int(params[2])
        px = cv2.copyMakeBorder(px, top, bottom, left, right, cv2.BORDER_CONSTANT, value=value)
        pad = ((top, bottom), (left, right))
        lines, chars = np.pad(lines, pad), np.pad(chars, pad)
        parts = np.pad(parts, pad, constant_values=BACKGROUND)
    elif kind == "mirror":
        px, lines, chars, parts = (a[:, ::-1] for a in (px, lines, chars, parts))
    elif kind == "overlay":
        px = _overlay(px, params)
    elif kind == "tone":
        px = tone_curve(px, params)
    return px, lines, chars, parts
