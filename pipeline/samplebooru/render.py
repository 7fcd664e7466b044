"""Rendering: a post spec becomes file bytes plus pixel-level ground truth.

The drawings are simple anime cel illustrations. Every shape is painted, back to front, into a *label
map* (one integer label per flat-coloured region) with OpenCV primitives; everything else is derived from
that map with a few vectorised passes over the whole canvas:

* flat colour: a palette lookup of the label;
* the shadow tone (cel shading): a pixel is in shadow when, a few pixels towards the light, a region in
  front of it casts onto it (hair onto the face, the chin onto the neck), or when, a few pixels away from
  the light, its own region ends (the far rim of every shape);
* the outlines: wherever the label changes, dilated by a width that depends on the boundary (thick
  silhouettes, thinner inner lines, thin background lines, brush-like variation along a stroke), plus
  detail strokes (eyelashes, mouth, hair strands, hatching) drawn into a stroke layer that later shapes
  erase (so occluded strokes vanish).

Each cast member has a fixed look (``spec.CAST``); a post's ``scene_seed`` decides the composition, its
``variant`` the pose, expression, position and background arrangement (parent/child posts), so
re-uploads of one scene are the same drawing pixel for pixel before their transform.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image

from pipeline.samplebooru.spec import CAST_BY_NAME, Character, PostSpec, Scene

RENDER_VERSION = 7

INK = (28, 22, 34)
PAPER = (255, 255, 255)
SHIFT = 3  # sub-pixel bits for cv2 drawing
_ONE = 1 << SHIFT
FIGURE_HEADS = 6.2  # figure height in head units (char_scale * canvas height = FIGURE_HEADS * u)
CLUTTER_SCALE = 0.05  # background line density that maps to a measured clutter of 1 - 1/e


@dataclass
class Rendered:
    data: bytes
    width: int
    height: int
    char_area: float
    char_bbox: tuple[int, int, int, int] | None
    clutter: float
    line_mask: np.ndarray | None  # bool HxW, aligned with the file's displayed pixels


# --------------------------------------------------------------------------------------------- canvas


class _Labels:
    """The regions painted so far: colour, shadow colour, owner group and outline weights."""

    def __init__(self) -> None:
        self.rgb: list[tuple[int, int, int]] = [PAPER]
        self.shade: list[tuple[int, int, int]] = [PAPER]
        self.group: list[int] = [0]
        self.inner: list[int] = [0]
        self.outer: list[int] = [0]
        self.receive: list[bool] = [False]
        self.casts: list[bool] = [False]
        self.ranges: dict[int, tuple[int, int]] = {}  # group -> (first, last) label: a character's are contiguous

    def add(self, rgb, group: int, inner: int, outer: int, receive: bool = True, casts: bool = True,
            shade=None) -> int:
        rgb = tuple(int(c) for c in rgb)
        if shade is None:
            shade = _shadow_of(rgb)
        self.rgb.append(rgb)
        self.shade.append(tuple(int(c) for c in shade))
        self.group.append(group)
        self.inner.append(inner)
        self.outer.append(outer)
        self.receive.append(receive)
        self.casts.append(casts)
        n = len(self.rgb) - 1
        lo, hi = self.ranges.get(group, (n, n))
        self.ranges[group] = (min(lo, n), max(hi, n))
        if len(self.rgb) >= 65535:
            raise RuntimeError("too many labels")
        return len(self.rgb) - 1

    def arrays(self):
        return (np.array(self.group, np.uint8), np.array(self.inner, np.uint8),
                np.array(self.outer, np.uint8), np.array(self.receive, bool), np.array(self.casts, bool))


def _shadow_of(rgb) -> tuple[int, int, int]:
    r, g, b = rgb
    return (int(r * 0.74 + 6), int(g * 0.70 + 8), int(b * 0.80 + 22))


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


class Canvas:
    """A label map ``L``, a stroke layer ``S`` and the label table; ``view`` gives a clipped panel."""

    def __init__(self, L: np.ndarray, S: np.ndarray, labels: _Labels, bounds: dict, ox: int = 0, oy: int = 0):
        self.L, self.S, self.labels, self.bounds, self.ox, self.oy = L, S, labels, bounds, ox, oy
        self.h, self.w = L.shape

    @classmethod
    def new(cls, h: int, w: int) -> Canvas:
        return cls(np.zeros((h, w), np.uint16), np.zeros((h, w), np.uint8), _Labels(), {})

    def view(self, x0: int, y0: int, x1: int, y1: int) -> Canvas:
        return Canvas(self.L[y0:y1, x0:x1], self.S[y0:y1, x0:x1], self.labels, self.bounds,
                      self.ox + x0, self.oy + y0)

    def _grow(self, label: int, pts: np.ndarray) -> None:
        g = self.labels.group[label]
        if g == 0:
            return
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        b = self.bounds.get(g)
        nb = (x0 + self.ox, y0 + self.oy, x1 + self.ox, y1 + self.oy)
        self.bounds[g] = nb if b is None else (min(b[0], nb[0]), min(b[1], nb[1]), max(b[2], nb[2]),
                                              max(b[3], nb[3]))

    def poly(self, label: int, pts) -> None:
        p = np.asarray(pts, np.float64)
        q = np.round(p * _ONE).astype(np.int32)
        cv2.fillPoly(self.L, [q], int(label), cv2.LINE_8, SHIFT)
        cv2.fillPoly(self.S, [q], 0, cv2.LINE_8, SHIFT)
        self._grow(label, p)

    def ellipse(self, label: int, c, axes, angle: float = 0, start: float = 0, end: float = 360) -> None:
        cc = (int(round(c[0] * _ONE)), int(round(c[1] * _ONE)))
        ax = (max(1, int(round(axes[0] * _ONE))), max(1, int(round(axes[1] * _ONE))))
        cv2.ellipse(self.L, cc, ax, angle, start, end, int(label), -1, cv2.LINE_8, SHIFT)
        cv2.ellipse(self.S, cc, ax, angle, start, end, 0, -1, cv2.LINE_8, SHIFT)
        r = max(axes)
        self._grow(label, np.array([[c[0] - r, c[1] - r], [c[0] + r, c[1] + r]]))

    def limb(self, label: int, pts, thickness: float) -> None:
        p = np.asarray(pts, np.float64)
        q = np.round(p * _ONE).astype(np.int32)
        t = max(1, int(round(thickness)))
        cv2.polylines(self.L, [q], False, int(label), t, cv2.LINE_8, SHIFT)
        cv2.polylines(self.S, [q], False, 0, t, cv2.LINE_8, SHIFT)
        self._grow(label, np.concatenate([p.min(axis=0, keepdims=True) - t, p.max(axis=0, keepdims=True) + t]))

    def rect(self, label: int, x0: float, y0: float, x1: float, y1: float) -> None:
        self.poly(label, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])

    def stroke(self, pts, thickness: float, closed: bool = False) -> None:
        q = np.round(np.asarray(pts, np.float64) * _ONE).astype(np.int32)
        cv2.polylines(self.S, [q], closed, 255, max(1, int(round(thickness))), cv2.LINE_8, SHIFT)

    def arc(self, c, axes, start: float, end: float, thickness: float, angle: float = 0) -> None:
        cc = (int(round(c[0] * _ONE)), int(round(c[1] * _ONE)))
        ax = (max(1, int(round(axes[0] * _ONE))), max(1, int(round(axes[1] * _ONE))))
        cv2.ellipse(self.S, cc, ax, angle, start, end, 255, max(1, int(round(thickness))), cv2.LINE_8, SHIFT)


def _shift(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]``, replicating the border."""
    out = a.copy()
    h, w = a.shape
    if abs(dx) >= w or abs(dy) >= h:
        return out
    ys_d = slice(max(0, -dy), h - max(0, dy))
    xs_d = slice(max(0, -dx), w - max(0, dx))
    ys_s = slice(max(0, dy), h - max(0, -dy))
    xs_s = slice(max(0, dx), w - max(0, -dx))
    out[ys_d, xs_d] = a[ys_s, xs_s]
    return out


_KERNELS: dict[int, np.ndarray] = {}


def _kernel(k: int) -> np.ndarray:
    if k not in _KERNELS:
        _KERNELS[k] = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return _KERNELS[k]


@dataclass
class _Picture:
    rgb: np.ndarray  # HxWx3 uint8 colour rendering
    lines: np.ndarray  # HxW bool outlines
    chars: np.ndarray  # HxW bool character pixels
    shadow: np.ndarray  # HxW bool shadow tone
    clutter: float


RECEIVE, CASTS, CHAR = 1, 2, 4


def _lut(L: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[L]`` for a uint8 table, through cv2.LUT when the labels fit in a byte."""
    if len(table) <= 256:
        t = np.zeros(256, np.uint8)
        t[: len(table)] = table
        return cv2.LUT(L.astype(np.uint8), t)
    return np.take(table, L)


def _finish(cv: Canvas, light: tuple[float, float], shadow_d: dict[int, int], bg_d: int,
            rng: np.random.Generator) -> _Picture:
    """Colour, shade and outline the label map."""
    L, labels = cv.L, cv.labels
    H, W = L.shape
    group, inner, outer, receive, casts = labels.arrays()
    flags = (receive * RECEIVE | casts * CASTS | (group > 0) * CHAR).astype(np.uint8)
    F = _lut(L, flags)

    # Shadow tone. Background pass over the whole canvas, then one pass per character in its box.
    shadow = np.zeros((H, W), bool)
    passes = [(0, 0, 0, W, H, bg_d)] + [
        (g, *cv.bounds[g], shadow_d[g]) for g in sorted(cv.bounds) if g in shadow_d
    ]
    for g, bx0, by0, bx1, by1, d in passes:
        dx, dy = int(round(light[0] * d)), int(round(light[1] * d))
        x0, y0 = max(0, int(bx0) - d - 2), max(0, int(by0) - d - 2)
        x1, y1 = min(W, int(bx1) + d + 3), min(H, int(by1) + d + 3)
        if (dx == 0 and dy == 0) or x1 - x0 < 2 or y1 - y0 < 2:
            continue
        Lr, Fr = L[y0:y1, x0:x1], F[y0:y1, x0:x1]
        if g == 0:
            own = (Fr & (RECEIVE | CHAR)) == RECEIVE
        else:
            lo, hi = labels.ranges[g]
            own = (Lr >= lo) & (Lr <= hi) & ((Fr & RECEIVE) > 0)
        fwd = _shift(Lr, dx, dy)
        back = _shift(Lr, -dx, -dy)
        cast = (back > Lr) & ((_shift(Fr, -dx, -dy) & CASTS) > 0)
        shadow[y0:y1, x0:x1] |= own & ((fwd < Lr) | cast)

    # Outlines: label changes, weighted by the region in front; brush-like variation along strokes.
    E = np.zeros(H * W, np.uint8)
    Lf = L.ravel()
    noise = rng.uniform(0.65, 1.4, size=(H // 48 + 2, W // 48 + 2)).astype(np.float32)
    dh = Lf[:-1] != Lf[1:]
    dh[W - 1::W] = False
    for idx, step in ((np.flatnonzero(dh), 1), (np.flatnonzero(Lf[:-W] != Lf[W:]), W)):
        if not len(idx):
            continue
        la, lb = Lf[idx], Lf[idx + step]
        front = np.maximum(la, lb)
        w = np.where(group[la] == group[lb], inner[front], outer[front]).astype(np.float32)
        w = np.where(w >= 2, np.round(w * noise[idx // W // 48, idx % W // 48]), w)
        w = np.clip(w, 0, 12).astype(np.uint8)
        keep = w > 0
        idx, w = idx[keep], w[keep]
        E[idx] = np.maximum(E[idx], w)  # indices are unique within one direction
    E = E.reshape(H, W)
    lines = cv.S > 0
    for k in np.unique(E[E > 0]) if E.any() else ():
        m = (E == k).view(np.uint8)
        lines |= cv2.dilate(m, _kernel(int(k))) > 0 if k > 1 else m > 0

    # Colour: flat colour, shadow tone where shaded, ink on the lines.
    n = len(labels.rgb)
    pal = np.zeros((2 * n + 1, 4), np.uint8)
    pal[0:2 * n:2, :3], pal[1:2 * n:2, :3], pal[2 * n, :3] = labels.rgb, labels.shade, INK
    idx = np.left_shift(L, 1, dtype=np.uint16) | shadow
    np.putmask(idx, lines, 2 * n)
    if 2 * n + 1 <= 256:  # cv2.LUT per channel is several times faster than a numpy gather
        i8 = idx.astype(np.uint8)
        lut = np.zeros((256, 4), np.uint8)
        lut[: 2 * n + 1] = pal
        rgb = cv2.merge([cv2.LUT(i8, lut[:, c].copy()) for c in range(3)])
    else:
        rgb = cv2.cvtColor(np.take(pal.view(np.uint32).ravel(), idx).view(np.uint8).reshape(H, W, 4),
                           cv2.COLOR_RGBA2RGB)

    chars = (F & CHAR) > 0
    k = 2 * int(outer.max(initial=1)) + 5
    bg = cv2.dilate(chars.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))) == 0
    n_bg = int(np.count_nonzero(bg))
    density = float(np.count_nonzero(lines & bg)) / n_bg if n_bg > 200 else 0.0
    clutter = float(1.0 - math.exp(-density / CLUTTER_SCALE))
    return _Picture(rgb=rgb, lines=lines, chars=chars, shadow=shadow, clutter=clutter)


# ------------------------------------------------------------------------------------------ characters


@dataclass
class _Pose:
    arm_angle: tuple[float, float]  # degrees from hanging down, outwards
    arm_bend: tuple[float, float]  # elbow bend, degrees (positive: forearm raised)
    leg_spread: float
    eyes: str  # open | closed | wink
    mouth: str  # smile | open | flat | grin
    blush: bool
    head_dx: float
    accent_swap: bool


def _pose(rng: np.random.Generator) -> _Pose:
    arms = []
    bends = []
    for _ in range(2):
        kind = rng.choice(["down", "hip", "wave", "raise", "out"], p=[0.35, 0.2, 0.15, 0.15, 0.15])
        a, b = {"down": (12, 10), "hip": (35, -95), "wave": (125, 40), "raise": (160, 5),
                "out": (70, 20)}[str(kind)]
        arms.append(a + rng.uniform(-8, 8))
        bends.append(b + rng.uniform(-10, 10))
    return _Pose(
        arm_angle=(arms[0], arms[1]), arm_bend=(bends[0], bends[1]), leg_spread=float(rng.uniform(0, 0.25)),
        eyes=str(rng.choice(["open", "closed", "wink"], p=[0.78, 0.12, 0.10])),
        mouth=str(rng.choice(["smile", "open", "flat", "grin"], p=[0.4, 0.3, 0.15, 0.15])),
        blush=bool(rng.random() < 0.5), head_dx=float(rng.uniform(-0.05, 0.05)),
        accent_swap=bool(rng.random() < 0.3),
    )


def _ellipse_pts(cx, cy, rx, ry, a0, a1, n=24):
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def draw_character(cv: Canvas, ch: Character, cx: float, top: float, u: float, pose: _Pose,
                   group: int) -> None:
    """A front-facing figure, head top at (cx, top), head height ``u`` pixels, FIGURE_HEADS heads tall."""
    lab = cv.labels
    ow = int(np.clip(round(1 + u * 0.035), 1, 7))
    iw = max(1, int(round(ow * 0.6)))
    dw = max(1, int(round(ow * 0.55)))
    detail = u >= 14

    def P(x, y):
        return (cx + x * u, top + y * u)

    def pts(seq):
        return [P(x, y) for x, y in seq]

    def new(rgb, receive=True, casts=True, inner=None, outer=None, shade=None):
        return lab.add(rgb, group, iw if inner is None else inner, ow if outer is None else outer,
                       receive, casts, shade)

    girl = ch.gender == "girl"
    hair, skin, outfit, accent = ch.hair_rgb, ch.skin_rgb, ch.outfit_rgb, ch.accent_rgb
    if pose.accent_swap:
        accent = _mix(accent, (255, 255, 255), 0.35)
    hair_l = new(hair)
    hx = pose.head_dx  # head offset in units

    # --- hair behind the head and body
    st = ch.hairstyle
    if st == "long":
        back = [(-0.5, 0.4), (-0.62, 1.4), (-0.7, 2.5), (-0.5, 2.7), (-0.3, 2.55), (-0.1, 2.75), (0.1, 2.55),
                (0.3, 2.75), (0.5, 2.55), (0.7, 2.6), (0.62, 1.4), (0.5, 0.4)]
        cv.poly(hair_l, pts([(x + hx, y) for x, y in back]))
    elif st == "twintails":
        for s in (-1, 1):
            tail = [(0.42, 0.28), (0.62, 0.2), (0.98, 0.7), (1.08, 1.6), (0.95, 2.3), (0.8, 2.85), (0.78, 2.2),
                    (0.74, 1.6), (0.62, 0.8), (0.4, 0.5)]
            cv.poly(new(hair), pts([(s * x + hx, y) for x, y in tail]))
    elif st == "ponytail":
        tail = [(0.1, 0.05), (0.6, -0.02), (0.92, 0.6), (0.9, 1.5), (0.62, 2.35), (0.66, 1.45), (0.58, 0.75),
                (0.3, 0.35)]
        cv.poly(new(hair), pts([(x + hx, y) for x, y in tail]))
    elif st == "bob":
        back = [(-0.55, 0.35), (-0.62, 1.0), (-0.5, 1.1), (0.5, 1.1), (0.62, 1.0), (0.55, 0.35)]
        cv.poly(hair_l, pts([(x + hx, y) for x, y in back]))
    elif st == "short":
        back = [(-0.5, 0.4), (-0.54, 0.92), (-0.4, 0.86), (0.4, 0.86), (0.54, 0.92), (0.5, 0.4)]
        cv.poly(hair_l, pts([(x + hx, y) for x, y in back]))

    # --- arms (helper) and legs
    sw = 0.5 if girl else 0.6

    def arm(side: int):
        a = math.radians(pose.arm_angle[(side + 1) // 2])
        b = math.radians(pose.arm_bend[(side + 1) // 2])
        sx, sy = side * (sw - 0.08), 1.38
        ex, ey = sx + side * 1.2 * math.sin(a), sy + 1.2 * math.cos(a)
        a2 = a + b
        wx, wy = ex + side * 1.1 * math.sin(a2), ey + 1.1 * math.cos(a2)
        sleeve = new(outfit)
        cv.limb(sleeve, [P(sx, sy), P(ex, ey)], 0.36 * u)
        fx, fy = ex + (wx - ex) * 0.55, ey + (wy - ey) * 0.55
        cv.limb(sleeve, [P(ex, ey), P(fx, fy)], 0.3 * u)
        cv.limb(new(skin), [P(fx, fy), P(wx, wy)], 0.2 * u)
        cv.ellipse(new(skin), P(wx, wy), (0.13 * u, 0.13 * u))
        cuff = new(accent)
        cv.limb(cuff, [P(ex + (wx - ex) * 0.5, ey + (wy - ey) * 0.5), P(fx, fy)], 0.32 * u)

    # legs
    for s in (-1, 1):
        hxp, fx = s * 0.2, s * (0.22 + pose.leg_spread)
        leg_rgb = skin if girl else _mix(outfit, (20, 20, 30), 0.45)
        leg = new(leg_rgb)
        cv.poly(leg, pts([(hxp - 0.2, 3.0), (hxp + 0.2, 3.0), (fx + 0.11, 5.8), (fx - 0.11, 5.8)]))
        if girl:
            sock = new(_mix(outfit, (30, 30, 40), 0.5))
            cv.poly(sock, pts([(hxp * 0.3 + fx * 0.7 - 0.15, 4.65), (hxp * 0.3 + fx * 0.7 + 0.15, 4.65),
                               (fx + 0.12, 5.8), (fx - 0.12, 5.8)]))
        cv.ellipse(new((92, 56, 40)), P(fx + s * 0.06, 5.88), (0.2 * u, 0.12 * u))

    neck = new(skin)
    cv.rect(neck, *P(hx * 0.5 - 0.12, 0.85), *P(hx * 0.5 + 0.12, 1.4))
    torso = new(outfit)
    if girl:
        body = [(-0.14, 1.18), (-0.42, 1.26), (-0.5, 1.4), (-0.46, 1.8), (-0.34, 2.45), (-0.4, 2.75),
                (0.4, 2.75), (0.34, 2.45), (0.46, 1.8), (0.5, 1.4), (0.42, 1.26), (0.14, 1.18)]
        cv.poly(torso, pts(body))
        skirt = new(_mix(outfit, accent, 0.5) if outfit[0] > 200 else _mix(outfit, (30, 30, 60), 0.3))
        sk = [(-0.36, 2.5), (0.36, 2.5), (0.82, 3.55)]
        for i in range(6, -1, -1):
            x = -0.82 + 1.64 * i / 6
            sk.append((x, 3.55 + (0.06 if i % 2 else 0)))
        cv.poly(skirt, pts(sk))
        if detail:
            for i in (-2, -1, 1, 2):
                cv.stroke(pts([(i * 0.09, 2.6), (i * 0.27, 3.5)]), dw)
        collar = new((250, 250, 250) if outfit[0] < 200 else accent)
        cv.poly(collar, pts([(-0.15, 1.17), (0.15, 1.17), (0.34, 1.3), (0.0, 1.62), (-0.34, 1.3)]))
        bow = new(accent)
        cv.poly(bow, pts([(0, 1.55), (-0.2, 1.42), (-0.22, 1.7)]))
        cv.poly(bow, pts([(0, 1.55), (0.2, 1.42), (0.22, 1.7)]))
        cv.ellipse(new(accent), P(0, 1.55), (0.06 * u, 0.06 * u))
    else:
        pants = new(_mix(outfit, (20, 20, 30), 0.45))
        cv.poly(pants, pts([(-0.42, 2.6), (0.42, 2.6), (0.44, 3.15), (-0.44, 3.15)]))
        shirt = new((245, 245, 245) if outfit[0] < 200 else accent)
        cv.poly(shirt, pts([(-0.2, 1.2), (0.2, 1.2), (0.25, 2.7), (-0.25, 2.7)]))
        jl, jr = new(outfit), new(outfit)
        cv.poly(jl, pts([(-0.14, 1.16), (-0.55, 1.28), (-0.62, 1.45), (-0.5, 1.9), (-0.44, 2.8), (-0.1, 2.8),
                         (-0.06, 1.7)]))
        cv.poly(jr, pts([(0.14, 1.16), (0.55, 1.28), (0.62, 1.45), (0.5, 1.9), (0.44, 2.8), (0.1, 2.8),
                         (0.06, 1.7)]))
        tie = new(accent)
        cv.poly(tie, pts([(-0.05, 1.22), (0.05, 1.22), (0.08, 1.75), (0.0, 1.86), (-0.08, 1.75)]))
        if detail:
            cv.stroke(pts([(-0.3, 2.1), (-0.22, 2.3)]), dw)
            cv.stroke(pts([(0.3, 2.1), (0.22, 2.3)]), dw)
    arm(-1)
    arm(1)

    # --- head
    face = new(skin)
    fp = np.concatenate([_ellipse_pts(hx, 0.55, 0.42, 0.45, 180, 360, 20),
                         np.array([(hx + 0.42, 0.62), (hx + 0.36, 0.86), (hx + 0.14, 1.02), (hx, 1.06),
                                   (hx - 0.14, 1.02), (hx - 0.36, 0.86), (hx - 0.42, 0.62)])])
    cap = new(hair) if st != "spiky" else hair_l
    if st == "spiky":
        t = np.radians(np.linspace(165, 375, 15))
        r = np.where(np.arange(15) % 2 == 0, 0.5, 0.78)
        spk = np.stack([hx + r * np.cos(t) * 1.05, 0.52 + r * np.sin(t)], axis=1)
        cv.poly(cap, pts(spk))
    cv.ellipse(cap, P(hx, 0.5), (0.51 * u, 0.5 * u))
    cv.poly(face, pts(fp))

    # eyes
    if detail:
        eye_w = (0.13, 0.12) if girl else (0.11, 0.085)
        for s in (-1, 1):
            ex, ey = hx + s * 0.18, 0.68
            closed = pose.eyes == "closed" or (pose.eyes == "wink" and s > 0)
            if closed:
                cv.arc(P(ex, ey - 0.02), (eye_w[0] * u, 0.05 * u), 200, 340, max(dw, 0.03 * u))
                continue
            white = new((255, 255, 255), receive=False, casts=False, inner=0)  # no line under the eye
            cv.ellipse(white, P(ex, ey), (eye_w[0] * u, eye_w[1] * u))
            ir = new(ch.eye_rgb, receive=False, casts=False, inner=dw)
            cv.ellipse(ir, P(ex + s * 0.01, ey + 0.01), (0.075 * u, (eye_w[1] - 0.005) * u))
            dark = new(_mix(ch.eye_rgb, (10, 10, 30), 0.45), receive=False, casts=False, inner=0)
            cv.ellipse(dark, P(ex + s * 0.01, ey + 0.01), (0.075 * u, (eye_w[1] - 0.005) * u), 0, 180, 360)
            cv.ellipse(new((20, 16, 30), receive=False, casts=False, inner=0), P(ex + s * 0.01, ey + 0.02),
                       (0.032 * u, 0.05 * u))
            cv.ellipse(new((255, 255, 255), receive=False, casts=False, inner=0),
                       P(ex - 0.03 + s * 0.01, ey - 0.03), (0.026 * u, 0.026 * u))
            cv.arc(P(ex, ey), (eye_w[0] * u * 1.08, eye_w[1] * u * 1.05), 190, 350, max(ow, 0.035 * u))
            cv.arc(P(ex, ey), (eye_w[0] * u * 0.75, eye_w[1] * u * 1.02), 65, 115, dw)
            if girl:
                cv.stroke(pts([(ex + s * 0.12, ey - 0.06), (ex + s * 0.18, ey - 0.1)]), max(dw, 0.02 * u))
        # mouth and nose
        if pose.mouth == "open":
            m = new((170, 50, 60), receive=False, casts=False, inner=dw)
            cv.ellipse(m, P(hx, 0.88), (0.075 * u, 0.06 * u), 0, 0, 180)
        elif pose.mouth == "grin":
            m = new((255, 255, 255), receive=False, casts=False, inner=dw)
            cv.ellipse(m, P(hx, 0.88), (0.09 * u, 0.05 * u), 0, 0, 180)
        elif pose.mouth == "smile":
            cv.arc(P(hx, 0.86), (0.06 * u, 0.03 * u), 20, 160, dw)
        else:
            cv.stroke(pts([(hx - 0.04, 0.89), (hx + 0.04, 0.89)]), dw)
        cv.stroke(pts([(hx + 0.015, 0.77), (hx, 0.79)]), dw)
        if pose.blush:
            bl = new(_mix(skin, (240, 90, 110), 0.35), receive=False, casts=False, inner=0)
            for s in (-1, 1):
                cv.ellipse(bl, P(hx + s * 0.27, 0.8), (0.07 * u, 0.03 * u))

    # --- hair in front of the face
    bangs = new(hair)
    top_arc = _ellipse_pts(hx, 0.5, 0.52, 0.51, 178, 362, 20)
    n_str = 7
    lower = []
    for i in range(n_str * 2 + 1):
        x = 0.46 - 0.92 * i / (n_str * 2)
        if st == "bob":
            y = 0.5
        elif st == "spiky":
            y = 0.64 if i % 2 else 0.36
        else:
            y = 0.6 if i % 2 else 0.4
        if i % 2 == 0 and abs(x) > 0.3:
            y += 0.12
        lower.append((x + hx, y))
    cv.poly(bangs, pts(np.concatenate([top_arc, np.array(lower)])))
    if st == "long":
        for s in (-1, 1):
            lock = new(hair)
            cv.poly(lock, pts([(hx + s * 0.4, 0.5), (hx + s * 0.53, 0.55), (hx + s * 0.5, 1.5),
                               (hx + s * 0.4, 1.3)]))
    if st != "spiky":
        hl = new(_mix(hair, (255, 255, 255), 0.45), receive=False, casts=False, inner=0, outer=0)
        band = _ellipse_pts(hx - 0.05, 0.5, 0.36, 0.3, 215, 300, 8)
        cv.limb(hl, pts(band), max(1, 0.05 * u))
    if detail:
        for i in range(1, n_str * 2, 2):
            x = 0.46 - 0.92 * i / (n_str * 2)
            cv.stroke(pts([(hx + x * 0.4, 0.18), (hx + x * 0.95, 0.48)]), max(1, dw - 1))
    if st in ("twintails", "ponytail"):
        tie = new(accent)
        for s in ((-1, 1) if st == "twintails" else (1,)):
            cv.ellipse(tie, P(hx + s * 0.48, 0.22 if st == "twintails" else 0.12), (0.1 * u, 0.09 * u))
    elif girl and st in ("long", "bob"):
        rib = new(accent)
        cv.poly(rib, pts([(hx + 0.3, 0.12), (hx + 0.5, 0.0), (hx + 0.5, 0.3)]))
        cv.poly(rib, pts([(hx + 0.3, 0.12), (hx + 0.12, 0.0), (hx + 0.14, 0.3)]))


# ---------------------------------------------------------------------------------------- backgrounds

PASTELS = ((255, 236, 214), (222, 240, 255), (232, 248, 226), (250, 226, 240), (240, 234, 255), (255, 250, 214))


def _bg_lw(cv: Canvas) -> int:
    return max(1, int(round(min(cv.w, cv.h) / 420)))


def draw_background(cv: Canvas, clutter: float, kind: str, rs: np.random.Generator, rv: np.random.Generator,
                    variant: int = 0) -> None:
    """Plain paper .. a cluttered scene; the amount of objects and lines grows continuously with clutter."""
    W, H = cv.w, cv.h
    lab = cv.labels
    lw = _bg_lw(cv)
    ilw = max(1, lw - 1) if lw > 1 else 1

    def new(rgb, receive=True, casts=True, inner=None, outer=None):
        return lab.add(rgb, 0, ilw if inner is None else inner, lw if outer is None else outer, receive, casts)

    # A detailed scene has big objects and a horizon: fewer of them just past the "simple" threshold
    # keeps the measured clutter continuous across the background kinds.
    ramp = float(np.clip(0.3 + (clutter - 0.35) / 0.35 * 0.7, 0.3, 1.0)) if kind == "detailed" else 1.0
    n_obj = int(round(90 * clutter ** 1.7 * ramp))
    n_lines = int(round(420 * clutter ** 2.2 * ramp))
    theme = str(rs.choice(["outdoor", "indoor", "city"]))
    horizon = H * float(rs.uniform(0.48, 0.78))
    state = _state(variant)
    if state:  # a child's horizon moves well away from its root's, up or down by its state
        up = (horizon < 0.63 * H) == (state == 1)
        horizon = float(np.clip(horizon + H * (1.0 if up else -1.0) * float(rv.uniform(0.13, 0.18)),
                                0.3 * H, 0.92 * H))
    if kind != "white":
        if kind == "simple":
            base = new(PASTELS[int(rs.integers(len(PASTELS)))], inner=0, outer=0)
            cv.rect(base, 0, 0, W, H)
            if rv.random() < 0.6:
                band = new(_mix(PASTELS[int(rs.integers(len(PASTELS)))], (200, 200, 220), 0.2))
                cv.rect(band, -5, horizon, W + 5, H + 5)
        elif theme in ("outdoor", "city"):
            sky = new((150, 200, 245) if rs.random() < 0.7 else (250, 190, 150), receive=False, inner=0, outer=0)
            cv.rect(sky, 0, 0, W, H)
            ground = new((120, 190, 90) if theme == "outdoor" else (150, 150, 160))
            cv.rect(ground, -5, horizon, W + 5, H + 5)
        else:
            wall = new(PASTELS[int(rs.integers(len(PASTELS)))], inner=0, outer=0)
            cv.rect(wall, 0, 0, W, H)
            floor = new((196, 150, 104))
            cv.rect(floor, -5, horizon, W + 5, H + 5)

    s = min(W, H)
    # Texture lines first (objects in front erase them): grass tufts, paving, grain, sparkles.
    for _ in range(n_lines):
        x = float(rv.uniform(0, W))
        ln = s * float(rv.uniform(0.012, 0.05))
        if kind == "detailed" and theme == "city":  # paving joints and road markings
            y = float(rv.uniform(horizon, H))
            cv.stroke([(x, y), (x + ln * 2.5, y)], lw)
            cv.stroke([(x, y), (x - ln * 0.6, y + ln * 0.8)], lw)
        elif kind == "detailed" and theme == "outdoor":
            y = float(rv.uniform(horizon, H))
            for a in (-0.5, 0.0, 0.45):
                cv.stroke([(x, y), (x + ln * math.sin(a), y - ln * math.cos(a))], lw)
        elif kind == "detailed":
            y = float(rv.uniform(0, H))
            if y > horizon:
                cv.stroke([(x, y), (x + ln * 2, y + ln * 0.1)], lw)
            else:
                cv.stroke([(x, y), (x, y + ln * 1.5)], lw)
        else:
            y = float(rv.uniform(0, H))
            cv.stroke([(x - ln / 2, y), (x + ln / 2, y)], lw)
            cv.stroke([(x, y - ln / 2), (x, y + ln / 2)], lw)
    objs = []
    for _ in range(n_obj):
        objs.append((float(rv.uniform(0.0, 1.0)), float(rv.uniform(-0.05, 1.05)) * W))
    objs.sort()
    for depth, x in objs:
        size = s * float(rv.uniform(0.06, 0.2)) * (0.5 + depth)
        y = horizon + (H - horizon) * depth * 0.9 if kind != "white" else H * float(rv.uniform(0.1, 0.95))
        pick = float(rv.random())
        if kind == "white" or kind == "simple":
            _prop_small(cv, new, rv, x, y, size * 0.5, pick)
        elif theme == "outdoor":
            if pick < 0.3:
                _tree(cv, new, rv, x, y, size * 1.6, lw)
            elif pick < 0.5:
                _cloud(cv, new, rv, x, float(rv.uniform(0.02, 0.4)) * H, size)
            elif pick < 0.7:
                _bush(cv, new, rv, x, y, size * 0.6)
            elif pick < 0.85:
                _house(cv, new, rv, x, y, size * 1.3)
            else:
                _prop_small(cv, new, rv, x, y, size * 0.3, pick)
        elif theme == "city":
            if pick < 0.5:
                _house(cv, new, rv, x, horizon + size * 0.2, size * 2.2, tall=True)
            elif pick < 0.7:
                _pole(cv, new, rv, x, y, size * 2.5, lw)
            elif pick < 0.85:
                _cloud(cv, new, rv, x, float(rv.uniform(0.02, 0.3)) * H, size)
            else:
                _box(cv, new, rv, x, y, size * 0.5)
        else:
            if pick < 0.25:
                _window(cv, new, rv, x, horizon * float(rv.uniform(0.2, 0.6)), size * 1.2)
            elif pick < 0.5:
                _shelf(cv, new, rv, x, horizon, size * 1.5)
            elif pick < 0.7:
                _box(cv, new, rv, x, y, size * 0.6)
            elif pick < 0.85:
                _plant(cv, new, rv, x, y, size * 0.8)
            else:
                _frame(cv, new, rv, x, horizon * float(rv.uniform(0.15, 0.6)), size * 0.7)


def _prop_small(cv, new, rv, x, y, r, pick):
    r = max(3.0, r)
    col = PASTELS[int(rv.integers(len(PASTELS)))]
    if pick < 0.35:  # star
        t = np.radians(np.arange(10) * 36 - 90)
        rr = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        cv.poly(new(_mix(col, (250, 210, 80), 0.6)), np.stack([x + rr * np.cos(t), y + rr * np.sin(t)], 1))
    elif pick < 0.7:  # flower
        petal = new(_mix(col, (240, 120, 160), 0.5))
        for k in range(5):
            a = k * 2 * math.pi / 5
            cv.ellipse(petal, (x + r * 0.5 * math.cos(a), y + r * 0.5 * math.sin(a)), (r * 0.4, r * 0.4))
        cv.ellipse(new((250, 220, 90)), (x, y), (r * 0.3, r * 0.3))
    else:  # bubble / heart-ish blob
        cv.ellipse(new(_mix(col, (140, 180, 240), 0.4)), (x, y), (r * 0.8, r * 0.7))


def _tree(cv, new, rv, x, y, h, lw):
    trunk = new((130, 86, 52))
    cv.rect(trunk, x - h * 0.06, y - h * 0.55, x + h * 0.06, y)
    leaf = new(_mix((70, 150, 70), (30, 100, 60), float(rv.random())))
    for _ in range(5):
        cv.ellipse(leaf, (x + h * float(rv.uniform(-0.25, 0.25)), y - h * float(rv.uniform(0.55, 0.95))),
                   (h * float(rv.uniform(0.16, 0.28)), h * float(rv.uniform(0.14, 0.22))))
    for _ in range(4):
        cx, cy = x + h * float(rv.uniform(-0.25, 0.25)), y - h * float(rv.uniform(0.6, 0.9))
        cv.arc((cx, cy), (h * 0.06, h * 0.04), 0, 180, lw)


def _cloud(cv, new, rv, x, y, s):
    c = new((255, 255, 255), receive=False, casts=False)
    for k in range(4):
        cv.ellipse(c, (x + (k - 1.5) * s * 0.28, y + (0 if k % 3 else s * 0.05)), (s * 0.26, s * 0.2))


def _bush(cv, new, rv, x, y, s):
    b = new(_mix((90, 170, 80), (40, 120, 70), float(rv.random())))
    for k in range(3):
        cv.ellipse(b, (x + (k - 1) * s * 0.45, y - s * (0.3 + 0.15 * (k == 1))), (s * 0.4, s * 0.35))


def _house(cv, new, rv, x, y, s, tall=False):
    w, h = s * float(rv.uniform(0.6, 1.0)), s * (float(rv.uniform(1.2, 2.4)) if tall else 0.8)
    wall = new(PASTELS[int(rv.integers(len(PASTELS)))] if not tall else _mix((180, 180, 200), (120, 130, 160),
                                                                           float(rv.random())))
    cv.rect(wall, x - w / 2, y - h, x + w / 2, y)
    if not tall:
        roof = new((190, 80, 70) if rv.random() < 0.5 else (80, 100, 160))
        cv.poly(roof, [(x - w * 0.6, y - h), (x, y - h - w * 0.45), (x + w * 0.6, y - h)])
    win = new((170, 210, 240), receive=False)
    nx, ny = 2 if not tall else 3, 1 if not tall else int(h / w * 3)
    for i in range(nx):
        for j in range(max(1, ny)):
            wx = x - w / 2 + w * (i + 0.5) / nx
            wy = y - h + h * (j + 0.5) / max(1, ny) - h * 0.05
            cv.rect(win, wx - w * 0.12, wy - h * 0.08 / max(1, ny) * 3, wx + w * 0.12,
                    wy + h * 0.05 / max(1, ny) * 3)


def _pole(cv, new, rv, x, y, h, lw):
    p = new((110, 110, 120))
    cv.rect(p, x - h * 0.015, y - h, x + h * 0.015, y)
    cv.rect(p, x - h * 0.12, y - h * 0.95, x + h * 0.12, y - h * 0.92)
    cv.stroke([(x - h * 0.12, y - h * 0.93), (x - h * 1.5, y - h * 0.8)], lw)
    cv.stroke([(x + h * 0.12, y - h * 0.93), (x + h * 1.5, y - h * 0.85)], lw)


def _box(cv, new, rv, x, y, s):
    c = new(_mix(PASTELS[int(rv.integers(len(PASTELS)))], (160, 120, 80), 0.5))
    cv.rect(c, x - s / 2, y - s * 0.8, x + s / 2, y)
    cv.poly(new(_mix((230, 200, 160), (255, 255, 255), 0.3)), [(x - s / 2, y - s * 0.8), (x - s * 0.3, y - s),
                                                               (x + s * 0.7, y - s), (x + s / 2, y - s * 0.8)])


def _window(cv, new, rv, x, y, s):
    frame = new((245, 245, 240))
    cv.rect(frame, x - s / 2, y - s / 2, x + s / 2, y + s / 2)
    pane = new((160, 205, 240), receive=False)
    m = s * 0.06
    for i in range(2):
        for j in range(2):
            cv.rect(pane, x - s / 2 + m + i * s / 2, y - s / 2 + m + j * s / 2, x - m / 2 + i * s / 2,
                    y - m / 2 + j * s / 2)
    cur = new(_mix(PASTELS[int(rv.integers(len(PASTELS)))], (200, 90, 90), 0.4))
    cv.poly(cur, [(x - s * 0.6, y - s * 0.6), (x - s * 0.3, y - s * 0.6), (x - s * 0.45, y + s * 0.6),
                  (x - s * 0.62, y + s * 0.6)])


def _shelf(cv, new, rv, x, y, s):
    wood = new((170, 120, 80))
    cv.rect(wood, x - s / 2, y - s * 1.4, x + s / 2, y)
    inside = new((120, 80, 56))
    for k in range(3):
        y0 = y - s * 1.4 + s * 0.08 + k * s * 0.44
        cv.rect(inside, x - s / 2 + s * 0.06, y0, x + s / 2 - s * 0.06, y0 + s * 0.36)
        bx = x - s / 2 + s * 0.08
        while bx < x + s / 2 - s * 0.14:
            bw = s * float(rv.uniform(0.05, 0.1))
            bh = s * float(rv.uniform(0.22, 0.34))
            cv.rect(new(PASTELS[int(rv.integers(len(PASTELS)))] if rv.random() < 0.5 else
                        (int(rv.integers(60, 220)), int(rv.integers(60, 220)), int(rv.integers(60, 220)))),
                    bx, y0 + s * 0.36 - bh, bx + bw, y0 + s * 0.36)
            bx += bw


def _plant(cv, new, rv, x, y, s):
    cv.poly(new((200, 110, 70)), [(x - s * 0.2, y - s * 0.35), (x + s * 0.2, y - s * 0.35), (x + s * 0.15, y),
                                  (x - s * 0.15, y)])
    leaf = new((80, 160, 80))
    for k in range(5):
        a = math.radians(-150 + k * 30)
        cv.ellipse(leaf, (x + s * 0.3 * math.cos(a), y - s * 0.45 + s * 0.3 * math.sin(a)), (s * 0.22, s * 0.08),
                   math.degrees(a))


def _frame(cv, new, rv, x, y, s):
    cv.rect(new((200, 160, 90)), x - s / 2, y - s * 0.4, x + s / 2, y + s * 0.4)
    cv.rect(new(PASTELS[int(rv.integers(len(PASTELS)))]), x - s * 0.4, y - s * 0.3, x + s * 0.4, y + s * 0.3)
    cv.poly(new((110, 170, 110)), [(x - s * 0.4, y + s * 0.3), (x - s * 0.1, y - s * 0.1), (x + s * 0.2, y + s * 0.3)])


# --------------------------------------------------------------------------------------------- scenes


def _state(variant: int) -> int:
    """Composition state of a variant: 0 for a root drawing, 1 or 2 for children (never the parent's)."""
    return variant % 3 if variant else 0


def _place(cv: Canvas, chars: tuple[str, ...], char_scale: float, rs, rv, variant: int, group0: int,
           shadow_d: dict[int, int]) -> int:
    """Draw the characters of one picture (or panel); returns the next free group id."""
    W, H = cv.w, cv.h
    n = len(chars)
    F = char_scale * H
    u = F / FIGURE_HEADS
    # The composition's horizontal offset: the scene's own, pushed well away from it by a variant.
    off = float(rs.uniform(-0.12, 0.12))
    spread = min(0.8, 0.3 * n) if n > 1 else 0.0
    state = _state(variant)
    if state:  # state 1 moves the group towards the side with more room, state 2 the other way
        side = (-1.0 if off > 0 else 1.0) * (1.0 if state == 1 else -1.0)
        off = float(np.clip(off + side * float(rv.uniform(0.26, 0.32)) * (1.0 - 0.5 * spread), -0.38, 0.38))
    order = list(range(n))
    if variant and n > 1:
        rv.shuffle(order)
    g = group0
    for k, i in enumerate(order):
        ch = CAST_BY_NAME[chars[i]]
        slot = (k + 0.5) / n - 0.5 if n > 1 else 0.0
        cx = W * (0.5 + off + slot * spread + float(rs.uniform(-0.03, 0.03)))
        if F <= 0.93 * H:
            feet = H * float(rs.uniform(0.9, 0.98)) - F * 0.0
            feet = max(F + H * 0.01, feet) if F < H else feet
            top = feet - F + float(rs.uniform(-0.02, 0.02)) * H * (k % 2)
        else:
            top = H * float(rs.uniform(0.03, 0.1)) + (0.04 * H * (k % 2))
        sc = 1.0 - 0.06 * (k % 2) if n > 1 else 1.0
        pose = _pose(rv) if variant else _pose(rs)
        g += 1
        shadow_d[g] = max(1, int(round(u * sc * 0.08)))
        draw_character(cv, ch, cx, top, u * sc, pose, g)
    return g


def _draw_picture(scene: Scene) -> _Picture:
    rs = np.random.default_rng([scene.scene_seed, 0])
    rv = np.random.default_rng([scene.scene_seed, 1, scene.variant])
    cv = Canvas.new(scene.height, scene.width)
    light = (0.8, 0.6) if rs.random() < 0.5 else (-0.8, 0.6)
    if _state(scene.variant) == 1:  # lit from the other side
        light = (-light[0], light[1])
    shadow_d: dict[int, int] = {}
    bg_d = max(2, int(round(min(cv.w, cv.h) / 90)))
    if scene.layout == "comic":
        _draw_comic(cv, scene, rs, rv, shadow_d)
    else:
        draw_background(cv, scene.clutter, scene.background, rs, rv, scene.variant)
        _place(cv, scene.characters, scene.char_scale, rs, rv, scene.variant, 0, shadow_d)
    return _finish(cv, light, shadow_d, bg_d, np.random.default_rng([scene.scene_seed, 2, scene.variant]))


def _draw_comic(cv: Canvas, scene: Scene, rs, rv, shadow_d) -> None:
    W, H = cv.w, cv.h
    m, gut = int(0.04 * min(W, H)), max(4, int(0.02 * min(W, H)))
    rows = int(rs.integers(2, 4))
    heights = rv.dirichlet([4.0] * rows)
    y = m
    g = 0
    lw = max(2, int(round(min(W, H) / 260)))
    for r in range(rows):
        ph = int((H - 2 * m - gut * (rows - 1)) * heights[r])
        cols = int(rv.integers(1, 3))
        split = float(rv.uniform(0.35, 0.65)) if cols == 2 else 1.0
        x = m
        for c in range(cols):
            pw = int((W - 2 * m - gut * (cols - 1)) * (split if c == 0 else 1 - split))
            if pw > 20 and ph > 20:
                pv = cv.view(x, y, x + pw, y + ph)
                prng = np.random.default_rng([scene.scene_seed, 3, scene.variant, r, c])
                kind = scene.background if prng.random() < 0.6 else "white"
                draw_background(pv, scene.clutter * 0.8, kind, rs, prng)
                k = int(prng.integers(1, min(2, len(scene.characters)) + 1))
                who = tuple(str(s) for s in prng.choice(scene.characters, size=k, replace=False))
                scale = float(np.exp(prng.uniform(np.log(0.6), np.log(2.6))))
                g = _place(pv, who, scale, prng, prng, scene.variant, g, shadow_d)
                if prng.random() < 0.7:
                    _balloon(pv, prng, lw)
                cv.stroke([(x, y), (x + pw, y), (x + pw, y + ph), (x, y + ph)], lw, closed=True)
            x += pw + gut
        y += ph + gut


def _balloon(cv: Canvas, rng, lw: int) -> None:
    W, H = cv.w, cv.h
    bx, by = W * float(rng.uniform(0.2, 0.8)), H * float(rng.uniform(0.15, 0.35))
    rx, ry = W * float(rng.uniform(0.12, 0.2)), H * float(rng.uniform(0.08, 0.14))
    lab = cv.labels.add((255, 255, 255), 0, lw, lw, receive=False, casts=False)
    cv.poly(lab, [(bx - rx * 0.3, by), (bx + rx * 0.1, by), (bx + rx * float(rng.uniform(-0.6, 0.6)), by + ry * 1.8)])
    cv.ellipse(lab, (bx, by), (rx, ry))
    for k in range(int(rng.integers(1, 4))):
        yy = by - ry * 0.4 + k * ry * 0.35
        if yy < by + ry * 0.6:
            cv.stroke([(bx - rx * 0.6, yy), (bx + rx * float(rng.uniform(0.1, 0.6)), yy)], max(1, lw - 1))


# ------------------------------------------------------------------------------------- tones, encoding


def _toned(pic: _Picture, tone: str) -> np.ndarray:
    """HxWx3 (colour) or HxW (grey) pixels for the tone, lightly anti-aliased (a 3x3 blur)."""
    return cv2.GaussianBlur(_tone_pixels(pic, tone), (3, 3), 0.55)


def _tone_pixels(pic: _Picture, tone: str) -> np.ndarray:
    if tone == "color":
        return pic.rgb
    if tone == "lineart":
        out = np.full(pic.lines.shape, 255, np.uint8)
        out[pic.lines] = 0
        return out
    grey = cv2.cvtColor(pic.rgb, cv2.COLOR_RGB2GRAY)
    if tone == "greyscale":
        return grey
    # monochrome: manga style, white flats, screentone dots for the shadow tone and mid greys
    h, w = grey.shape
    yy, xx = np.ogrid[:h, :w]
    p = max(4, int(round(min(h, w) / 160)))
    dots = ((yy % p) < p // 2) & ((xx % p) < p // 2)
    out = np.where(grey > 200, 255, np.where(grey > 120, 232, 150)).astype(np.uint8)
    out[pic.shadow & dots] = 70
    out[pic.lines] = 0
    return out


def _encode(px: np.ndarray, ext: str, quality: int, png_level: int = 1) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(px)
    if ext == "jpg":
        im.save(buf, format="JPEG", quality=quality)
    elif ext == "png":
        im.save(buf, format="PNG", compress_level=png_level)
    else:
        im.save(buf, format="GIF")
    return buf.getvalue()


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _resize_mask(m: np.ndarray, size: tuple[int, int], thresh: int) -> np.ndarray:
    return cv2.resize(m.view(np.uint8) * np.uint8(255), size, interpolation=cv2.INTER_AREA) >= thresh


NOT_IMAGE = (
    b"<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title></head>\n<body>\n"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center>\n<hr><center>nginx</center>\n"
    b"</body></html>\n"
)

_EXIF_STORE = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def render_post(spec: PostSpec) -> Rendered:
    s = spec.scene
    brk = spec.broken
    if brk == "not_image":
        return Rendered(NOT_IMAGE + f"<!-- post {spec.id} -->\n".encode(), s.width, s.height, 0.0, None, 0.0,
                        None)
    if brk == "one_pixel":
        data = _encode(np.full((1, 1, 3), 255, np.uint8), "png", 0)
        return Rendered(data, 1, 1, 0.0, None, 0.0, np.zeros((1, 1), bool))
    if brk == "decompression_bomb":
        return _bomb(spec)

    pic = _draw_picture(s)
    px = _toned(pic, spec.tone)
    lines, chars = pic.lines, pic.chars
    png_level = 1
    if spec.transform == "resize":
        size = (max(1, round(s.width * spec.transform_arg)), max(1, round(s.height * spec.transform_arg)))
        px = cv2.resize(px, size, interpolation=cv2.INTER_AREA)
        lines, chars = _resize_mask(lines, size, 100), _resize_mask(chars, size, 128)
    elif spec.transform == "crop":
        h, w = lines.shape
        cx, cy = int(round(w * spec.transform_arg)), int(round(h * spec.transform_arg))
        px, lines, chars = (a[cy:h - cy, cx:w - cx] for a in (px, lines, chars))
    elif spec.transform == "requality" and spec.ext == "png":
        png_level = 6  # a re-saved PNG: same pixels, other bytes
    px = np.ascontiguousarray(px)
    lines, chars = np.ascontiguousarray(lines), np.ascontiguousarray(chars)
    h, w = lines.shape

    if brk == "truncated":
        full = _encode(px, "jpg", spec.jpeg_quality)
        cut = int(len(full) * (0.35 + 0.3 * (s.scene_seed % 97) / 97))
        return Rendered(full[:cut], w, h, 0.0, None, pic.clutter, None)
    if brk == "cmyk_jpeg":
        buf = io.BytesIO()
        Image.fromarray(px).convert("RGB").convert("CMYK").save(buf, format="JPEG", quality=spec.jpeg_quality)
        data = buf.getvalue()
    elif brk == "png16":
        grey = px if px.ndim == 2 else cv2.cvtColor(px, cv2.COLOR_RGB2GRAY)
        buf = io.BytesIO()
        Image.fromarray(grey.astype("<u2") * 257).save(buf, format="PNG", compress_level=1)
        data = buf.getvalue()
    elif brk == "palette_transparency":
        im = Image.fromarray(px).convert("RGB").quantize(colors=64, method=Image.Quantize.FASTOCTREE)
        pal = np.array(im.getpalette()[: 3 * 64]).reshape(-1, 3)
        white = int(np.argmax(pal.sum(axis=1)))
        buf = io.BytesIO()
        im.save(buf, format="PNG", transparency=white, compress_level=1)
        data = buf.getvalue()
    elif brk == "animated_gif":
        frames = [Image.fromarray(px).convert("RGB")]
        blink = px.copy()
        blink[lines] = 255 - blink[lines] // 3  # second frame: the outlines flash
        frames.append(Image.fromarray(blink).convert("RGB"))
        frames = [f.quantize(colors=128, method=Image.Quantize.FASTOCTREE) for f in frames]
        buf = io.BytesIO()
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
        data = buf.getvalue()
    elif brk == "exif_rotated":
        orient = (3, 6, 8)[s.scene_seed % 3]
        stored = Image.fromarray(px).transpose(_EXIF_STORE[orient])
        exif = Image.Exif()
        exif[0x0112] = orient
        buf = io.BytesIO()
        stored.save(buf, format="JPEG", quality=spec.jpeg_quality, exif=exif.tobytes())
        data = buf.getvalue()
    else:
        data = _encode(px, spec.ext, spec.jpeg_quality, png_level)
    return Rendered(data, w, h, float(chars.mean()), _bbox(chars), pic.clutter, lines)


def _bomb(spec: PostSpec) -> Rendered:
    """A small, valid JPEG whose header claims 40000 x 40000 pixels."""
    small = _draw_picture(replace(spec.scene, width=96, height=96, layout="illustration"))
    data = bytearray(_encode(small.rgb, "jpg", 80))
    i = 2
    while i < len(data) - 9:
        if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = (40000).to_bytes(2, "big") * 2
            break
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return Rendered(bytes(data), 40000, 40000, 0.0, None, 0.0, None)
