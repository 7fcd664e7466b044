"""The drawing surface: a label map, a stroke layer and the table of what each label is.

Every shape of a picture is painted, back to front, as one integer label per flat-coloured region
(``Canvas.L``) rather than as colour, so that shading, outlines and the ground-truth masks can all be
derived afterwards from which region is where (``shading.finish``). Detail strokes go to a separate
layer (``Canvas.S``) that later shapes erase, so occluded strokes vanish. Coordinates are floats,
drawn with SHIFT sub-pixel bits.
"""

from __future__ import annotations

import cv2
import numpy as np

INK = (28, 22, 34)
# Ground-truth part of each pixel (``Rendered.parts``): what a colorizer should paint there.
PARTS = ("background", "skin", "hair", "eyes", "outfit", "accent", "line")
BACKGROUND, SKIN, HAIR, EYES, OUTFIT, ACCENT, LINE = range(len(PARTS))
PAPER = (255, 255, 255)
SHIFT = 3  # sub-pixel bits for cv2 drawing
_ONE = 1 << SHIFT


class Labels:
    """The regions painted so far: colour, shadow colour, owner group and outline weights."""

    def __init__(self) -> None:
        self.rgb: list[tuple[int, int, int]] = [PAPER]
        self.shade: list[tuple[int, int, int]] = [PAPER]
        self.group: list[int] = [0]
        self.inner: list[int] = [0]
        self.outer: list[int] = [0]
        self.receive: list[bool] = [False]
        self.casts: list[bool] = [False]
        self.part: list[int] = [BACKGROUND]
        self.ranges: dict[int, tuple[int, int]] = {}  # group -> (first, last) label: a character's are contiguous

    def add(self, rgb, group: int, inner: int, outer: int, receive: bool = True, casts: bool = True,
            shade=None, part: int = BACKGROUND) -> int:
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
        self.part.append(part)
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


def mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))


class Canvas:
    """A label map ``L``, a stroke layer ``S`` and the label table; ``view`` gives a clipped panel."""

    def __init__(self, L: np.ndarray, S: np.ndarray, labels: Labels, bounds: dict, ox: int = 0, oy: int = 0):
        self.L, self.S, self.labels, self.bounds, self.ox, self.oy = L, S, labels, bounds, ox, oy
        self.h, self.w = L.shape

    @classmethod
    def new(cls, h: int, w: int) -> Canvas:
        return cls(np.zeros((h, w), np.uint16), np.zeros((h, w), np.uint8), Labels(), {})

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
