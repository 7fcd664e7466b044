"""Composition: a scene becomes a finished picture (background, characters, comic panels, balloons).

This is the only drawing code that knows about posts' scenes and variants: it seeds the random streams
(``rs`` from the scene, the same for every variant; ``rv`` per variant) and lays the figures out, then
hands the label map to ``shading.finish``.
"""

from __future__ import annotations

import numpy as np

from pipeline.samplebooru.backgrounds import draw_background, variant_state
from pipeline.samplebooru.canvas import Canvas
from pipeline.samplebooru.characters import FIGURE_HEADS, draw_character, random_pose
from pipeline.samplebooru.shading import Picture, finish
from pipeline.samplebooru.spec import CAST_BY_NAME, Scene


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
    state = variant_state(variant)
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
        pose = random_pose(rv) if variant else random_pose(rs)
        g += 1
        shadow_d[g] = max(1, int(round(u * sc * 0.08)))
        draw_character(cv, ch, cx, top, u * sc, pose, g)
    return g


def draw_picture(scene: Scene) -> Picture:
    rs = np.random.default_rng([scene.scene_seed, 0])
    rv = np.random.default_rng([scene.scene_seed, 1, scene.variant])
    cv = Canvas.new(scene.height, scene.width)
    light = (0.8, 0.6) if rs.random() < 0.5 else (-0.8, 0.6)
    if variant_state(scene.variant) == 1:  # lit from the other side
        light = (-light[0], light[1])
    shadow_d: dict[int, int] = {}
    bg_d = max(2, int(round(min(cv.w, cv.h) / 90)))
    if scene.layout == "comic":
        _draw_comic(cv, scene, rs, rv, shadow_d)
    else:
        draw_background(cv, scene.clutter, scene.background, rs, rv, scene.variant)
        _place(cv, scene.characters, scene.char_scale, rs, rv, scene.variant, 0, shadow_d)
    return finish(cv, light, shadow_d, bg_d, np.random.default_rng([scene.scene_seed, 2, scene.variant]))


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
