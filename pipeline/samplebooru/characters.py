"""The cast drawn as figures: a random pose, and one front-facing figure painted onto a canvas.

A character's look (hair, colours, outfit) is fixed by ``spec.CAST``; only the ``Pose`` varies between
drawings of one character. Figure geometry is in head units (``u`` pixels), so one drawing routine
serves every framing from a full figure to a close-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.samplebooru.canvas import ACCENT, EYES, HAIR, OUTFIT, SKIN, Canvas, mix
from pipeline.samplebooru.spec import Character

FIGURE_HEADS = 6.2  # figure height in head units (char_scale * canvas height = FIGURE_HEADS * u)


@dataclass
class Pose:
    arm_angle: tuple[float, float]  # degrees from hanging down, outwards
    arm_bend: tuple[float, float]  # elbow bend, degrees (positive: forearm raised)
    leg_spread: float
    eyes: str  # open | closed | wink
    mouth: str  # smile | open | flat | grin
    blush: bool
    head_dx: float
    accent_swap: bool


def random_pose(rng: np.random.Generator) -> Pose:
    arms = []
    bends = []
    for _ in range(2):
        kind = rng.choice(["down", "hip", "wave", "raise", "out"], p=[0.35, 0.2, 0.15, 0.15, 0.15])
        a, b = {"down": (12, 10), "hip": (35, -95), "wave": (125, 40), "raise": (160, 5),
                "out": (70, 20)}[str(kind)]
        arms.append(a + rng.uniform(-8, 8))
        bends.append(b + rng.uniform(-10, 10))
    return Pose(
        arm_angle=(arms[0], arms[1]), arm_bend=(bends[0], bends[1]), leg_spread=float(rng.uniform(0, 0.25)),
        eyes=str(rng.choice(["open", "closed", "wink"], p=[0.78, 0.12, 0.10])),
        mouth=str(rng.choice(["smile", "open", "flat", "grin"], p=[0.4, 0.3, 0.15, 0.15])),
        blush=bool(rng.random() < 0.5), head_dx=float(rng.uniform(-0.05, 0.05)),
        accent_swap=bool(rng.random() < 0.3),
    )


def _ellipse_pts(cx, cy, rx, ry, a0, a1, n=24):
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


@dataclass
class _Pen:
    """What every part of one figure is drawn with: the canvas, the figure's frame (head top at (cx, top),
    ``u`` pixels a head unit), its line widths, and its colours with the part each one paints."""

    cv: Canvas
    ch: Character
    pose: Pose
    cx: float
    top: float
    u: float
    group: int

    def __post_init__(self) -> None:
        self.ow = int(np.clip(round(1 + self.u * 0.035), 1, 7))
        self.iw = max(1, int(round(self.ow * 0.6)))
        self.dw = max(1, int(round(self.ow * 0.55)))
        self.detail = self.u >= 14
        self.girl = self.ch.gender == "girl"
        self.hx = self.pose.head_dx  # head offset in units
        accent = self.ch.accent_rgb
        self.accent = mix(accent, (255, 255, 255), 0.35) if self.pose.accent_swap else accent
        # a region's part (ground truth only): by its colour, else clothing, unless the call says otherwise
        self.part_of = {tuple(self.ch.hair_rgb): HAIR, tuple(self.ch.skin_rgb): SKIN, tuple(self.ch.eye_rgb): EYES,
                        tuple(self.accent): ACCENT, tuple(self.ch.outfit_rgb): OUTFIT}

    def P(self, x, y):  # noqa: N802 (a point of the figure, in head units)
        return (self.cx + x * self.u, self.top + y * self.u)

    def pts(self, seq):
        return [self.P(x, y) for x, y in seq]

    def new(self, rgb, receive=True, casts=True, inner=None, outer=None, shade=None, part=None):
        """A new region's label in this figure's group, with its line widths and ground-truth part."""
        return self.cv.labels.add(rgb, self.group, self.iw if inner is None else inner,
                                  self.ow if outer is None else outer, receive, casts, shade,
                                  self.part_of.get(tuple(rgb), OUTFIT) if part is None else part)


def draw_character(cv: Canvas, ch: Character, cx: float, top: float, u: float, pose: Pose,
                   group: int) -> None:
    """A front-facing figure, head top at (cx, top), head height ``u`` pixels, FIGURE_HEADS heads tall:
    back to front, the hair behind, the legs, the torso, the arms, the head, the face, the hair in front.
    Each region's label is made in that order, so the same figure is drawn label for label every time."""
    p = _Pen(cv, ch, pose, cx, top, u, group)
    hair_l = p.new(ch.hair_rgb)
    _back_hair(p, hair_l)
    _legs(p)
    _torso(p)
    _arm(p, -1)
    _arm(p, 1)
    _head(p, hair_l)
    if p.detail:
        _eyes(p)
        _mouth(p)
    _front_hair(p)


def _back_hair(p: _Pen, hair_l: int) -> None:
    """The hair behind the head and body, by hairstyle."""
    pts, new, hx, cv, hair = p.pts, p.new, p.hx, p.cv, p.ch.hair_rgb
    st = p.ch.hairstyle
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


def _legs(p: _Pen) -> None:
    P, pts, new, u, cv = p.P, p.pts, p.new, p.u, p.cv
    pose, girl, skin, outfit = p.pose, p.girl, p.ch.skin_rgb, p.ch.outfit_rgb
    for s in (-1, 1):
        hxp, fx = s * 0.2, s * (0.22 + pose.leg_spread)
        leg_rgb = skin if girl else mix(outfit, (20, 20, 30), 0.45)
        leg = new(leg_rgb)
        cv.poly(leg, pts([(hxp - 0.2, 3.0), (hxp + 0.2, 3.0), (fx + 0.11, 5.8), (fx - 0.11, 5.8)]))
        if girl:
            sock = new(mix(outfit, (30, 30, 40), 0.5))
            cv.poly(sock, pts([(hxp * 0.3 + fx * 0.7 - 0.15, 4.65), (hxp * 0.3 + fx * 0.7 + 0.15, 4.65),
                               (fx + 0.12, 5.8), (fx - 0.12, 5.8)]))
        cv.ellipse(new((92, 56, 40)), P(fx + s * 0.06, 5.88), (0.2 * u, 0.12 * u))


def _torso(p: _Pen) -> None:
    """The neck, and the torso: a dress and collar, or a shirt, jacket and tie."""
    P, pts, new, u, hx = p.P, p.pts, p.new, p.u, p.hx
    cv, girl, dw, detail, skin = p.cv, p.girl, p.dw, p.detail, p.ch.skin_rgb
    outfit, accent = p.ch.outfit_rgb, p.accent
    neck = new(skin)
    cv.rect(neck, *P(hx * 0.5 - 0.12, 0.85), *P(hx * 0.5 + 0.12, 1.4))
    torso = new(outfit)
    if girl:
        body = [(-0.14, 1.18), (-0.42, 1.26), (-0.5, 1.4), (-0.46, 1.8), (-0.34, 2.45), (-0.4, 2.75),
                (0.4, 2.75), (0.34, 2.45), (0.46, 1.8), (0.5, 1.4), (0.42, 1.26), (0.14, 1.18)]
        cv.poly(torso, pts(body))
        skirt = new(mix(outfit, accent, 0.5) if outfit[0] > 200 else mix(outfit, (30, 30, 60), 0.3))
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
        pants = new(mix(outfit, (20, 20, 30), 0.45))
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


def _arm(p: _Pen, side: int) -> None:
    """One arm, its sleeve, cuff and hand; ``side`` -1 left, 1 right."""
    P, new, u, cv, pose = p.P, p.new, p.u, p.cv, p.pose
    skin, outfit, accent = p.ch.skin_rgb, p.ch.outfit_rgb, p.accent
    sw = 0.5 if p.girl else 0.6
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


def _head(p: _Pen, hair_l: int) -> None:
    """The face and the cap of hair over it."""
    P, pts, new, u, hx = p.P, p.pts, p.new, p.u, p.hx
    cv, hair, skin, st = p.cv, p.ch.hair_rgb, p.ch.skin_rgb, p.ch.hairstyle
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


def _eyes(p: _Pen) -> None:
    P, pts, new, u, hx = p.P, p.pts, p.new, p.u, p.hx
    cv, ch, pose, girl, ow = p.cv, p.ch, p.pose, p.girl, p.ow
    dw = p.dw
    eye_w = (0.13, 0.12) if girl else (0.11, 0.085)
    for s in (-1, 1):
        ex, ey = hx + s * 0.18, 0.68
        closed = pose.eyes == "closed" or (pose.eyes == "wink" and s > 0)
        if closed:
            cv.arc(P(ex, ey - 0.02), (eye_w[0] * u, 0.05 * u), 200, 340, max(dw, 0.03 * u))
            continue
        white = new((255, 255, 255), receive=False, casts=False, inner=0, part=EYES)  # no line under the eye
        cv.ellipse(white, P(ex, ey), (eye_w[0] * u, eye_w[1] * u))
        ir = new(ch.eye_rgb, receive=False, casts=False, inner=dw, part=EYES)
        cv.ellipse(ir, P(ex + s * 0.01, ey + 0.01), (0.075 * u, (eye_w[1] - 0.005) * u))
        dark = new(mix(ch.eye_rgb, (10, 10, 30), 0.45), receive=False, casts=False, inner=0, part=EYES)
        cv.ellipse(dark, P(ex + s * 0.01, ey + 0.01), (0.075 * u, (eye_w[1] - 0.005) * u), 0, 180, 360)
        cv.ellipse(new((20, 16, 30), receive=False, casts=False, inner=0, part=EYES), P(ex + s * 0.01, ey + 0.02),
                   (0.032 * u, 0.05 * u))
        cv.ellipse(new((255, 255, 255), receive=False, casts=False, inner=0, part=EYES),
                   P(ex - 0.03 + s * 0.01, ey - 0.03), (0.026 * u, 0.026 * u))
        cv.arc(P(ex, ey), (eye_w[0] * u * 1.08, eye_w[1] * u * 1.05), 190, 350, max(ow, 0.035 * u))
        cv.arc(P(ex, ey), (eye_w[0] * u * 0.75, eye_w[1] * u * 1.02), 65, 115, dw)
        if girl:
            cv.stroke(pts([(ex + s * 0.12, ey - 0.06), (ex + s * 0.18, ey - 0.1)]), max(dw, 0.02 * u))


def _mouth(p: _Pen) -> None:
    """The mouth, the nose and the blush."""
    P, pts, new, u, hx = p.P, p.pts, p.new, p.u, p.hx
    cv, pose, dw, skin = p.cv, p.pose, p.dw, p.ch.skin_rgb
    if pose.mouth == "open":
        m = new((170, 50, 60), receive=False, casts=False, inner=dw, part=SKIN)
        cv.ellipse(m, P(hx, 0.88), (0.075 * u, 0.06 * u), 0, 0, 180)
    elif pose.mouth == "grin":
        m = new((255, 255, 255), receive=False, casts=False, inner=dw, part=SKIN)
        cv.ellipse(m, P(hx, 0.88), (0.09 * u, 0.05 * u), 0, 0, 180)
    elif pose.mouth == "smile":
        cv.arc(P(hx, 0.86), (0.06 * u, 0.03 * u), 20, 160, dw)
    else:
        cv.stroke(pts([(hx - 0.04, 0.89), (hx + 0.04, 0.89)]), dw)
    cv.stroke(pts([(hx + 0.015, 0.77), (hx, 0.79)]), dw)
    if pose.blush:
        bl = new(mix(skin, (240, 90, 110), 0.35), receive=False, casts=False, inner=0, part=SKIN)
        for s in (-1, 1):
            cv.ellipse(bl, P(hx + s * 0.27, 0.8), (0.07 * u, 0.03 * u))


def _front_hair(p: _Pen) -> None:
    """The hair in front of the face: bangs, locks, highlight, strands, ties."""
    P, pts, new, u, hx = p.P, p.pts, p.new, p.u, p.hx
    cv, girl, dw, detail, hair = p.cv, p.girl, p.dw, p.detail, p.ch.hair_rgb
    accent, st = p.accent, p.ch.hairstyle
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
        hl = new(mix(hair, (255, 255, 255), 0.45), receive=False, casts=False, inner=0, outer=0, part=HAIR)
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
