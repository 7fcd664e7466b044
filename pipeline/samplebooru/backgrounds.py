"""Backgrounds behind the characters: plain paper, a pastel wash, or an outdoor, indoor or city scene.

Background shapes belong to group 0 (not a character), so they count towards the measured clutter and
not towards the character masks. The number of props and texture lines grows continuously with the
scene's clutter. Each prop is a small function drawing one object at (x, y) with the background's
``new`` label maker.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.samplebooru.canvas import Canvas, mix


def variant_state(variant: int) -> int:
    """Composition state of a variant: 0 for a root drawing, 1 or 2 for children (never the parent's).

    The background moves its horizon by it; ``scenes`` moves the figures and the light by it too.
    """
    return variant % 3 if variant else 0


PASTELS = ((255, 236, 214), (222, 240, 255), (232, 248, 226), (250, 226, 240), (240, 234, 255), (255, 250, 214))


def _bg_lw(cv: Canvas) -> int:
    return max(1, int(round(min(cv.w, cv.h) / 420)))


def draw_background(cv: Canvas, clutter: float, kind: str, rs: np.random.Generator, rv: np.random.Generator,
                    variant: int = 0) -> None:
    """Plain paper .. a cluttered scene; the amount of objects and lines grows continuously with clutter."""
    H = cv.h
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
    state = variant_state(variant)
    if state:  # a child's horizon moves well away from its root's, up or down by its state
        up = (horizon < 0.63 * H) == (state == 1)
        horizon = float(np.clip(horizon + H * (1.0 if up else -1.0) * float(rv.uniform(0.13, 0.18)),
                                0.3 * H, 0.92 * H))
    if kind != "white":
        _ground(cv, new, rs, rv, kind, theme, horizon)
    _texture(cv, rv, kind, theme, horizon, n_lines, lw)
    _objects(cv, new, rv, kind, theme, horizon, n_obj, lw)


def _ground(cv: Canvas, new, rs: np.random.Generator, rv: np.random.Generator, kind: str, theme: str,
            horizon: float) -> None:
    """The fills behind everything: a pastel (and a band), sky and ground, or wall and floor."""
    W, H = cv.w, cv.h
    if kind == "simple":
        base = new(PASTELS[int(rs.integers(len(PASTELS)))], inner=0, outer=0)
        cv.rect(base, 0, 0, W, H)
        if rv.random() < 0.6:
            band = new(mix(PASTELS[int(rs.integers(len(PASTELS)))], (200, 200, 220), 0.2))
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


def _texture(cv: Canvas, rv: np.random.Generator, kind: str, theme: str, horizon: float, n_lines: int,
             lw: int) -> None:
    """Texture lines, drawn first (objects in front erase them): grass tufts, paving, grain, sparkles."""
    W, H = cv.w, cv.h
    s = min(W, H)
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


def _objects(cv: Canvas, new, rv: np.random.Generator, kind: str, theme: str, horizon: float, n_obj: int,
             lw: int) -> None:
    """The props, back to front by depth: trees, clouds, bushes, houses, poles, boxes, windows, shelves..."""
    W, H = cv.w, cv.h
    s = min(W, H)
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
        cv.poly(new(mix(col, (250, 210, 80), 0.6)), np.stack([x + rr * np.cos(t), y + rr * np.sin(t)], 1))
    elif pick < 0.7:  # flower
        petal = new(mix(col, (240, 120, 160), 0.5))
        for k in range(5):
            a = k * 2 * math.pi / 5
            cv.ellipse(petal, (x + r * 0.5 * math.cos(a), y + r * 0.5 * math.sin(a)), (r * 0.4, r * 0.4))
        cv.ellipse(new((250, 220, 90)), (x, y), (r * 0.3, r * 0.3))
    else:  # bubble / heart-ish blob
        cv.ellipse(new(mix(col, (140, 180, 240), 0.4)), (x, y), (r * 0.8, r * 0.7))


def _tree(cv, new, rv, x, y, h, lw):
    trunk = new((130, 86, 52))
    cv.rect(trunk, x - h * 0.06, y - h * 0.55, x + h * 0.06, y)
    leaf = new(mix((70, 150, 70), (30, 100, 60), float(rv.random())))
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
    b = new(mix((90, 170, 80), (40, 120, 70), float(rv.random())))
    for k in range(3):
        cv.ellipse(b, (x + (k - 1) * s * 0.45, y - s * (0.3 + 0.15 * (k == 1))), (s * 0.4, s * 0.35))


def _house(cv, new, rv, x, y, s, tall=False):
    w, h = s * float(rv.uniform(0.6, 1.0)), s * (float(rv.uniform(1.2, 2.4)) if tall else 0.8)
    wall = new(PASTELS[int(rv.integers(len(PASTELS)))] if not tall else mix((180, 180, 200), (120, 130, 160),
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
    c = new(mix(PASTELS[int(rv.integers(len(PASTELS)))], (160, 120, 80), 0.5))
    cv.rect(c, x - s / 2, y - s * 0.8, x + s / 2, y)
    cv.poly(new(mix((230, 200, 160), (255, 255, 255), 0.3)), [(x - s / 2, y - s * 0.8), (x - s * 0.3, y - s),
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
    cur = new(mix(PASTELS[int(rv.integers(len(PASTELS)))], (200, 90, 90), 0.4))
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
