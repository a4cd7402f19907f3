"""Procedural product photos for the demo catalogue, with known ground truth.

:func:`render` draws one product "photo": a category silhouette (t-shirt with
sleeves, hoodie with hood, pants with two legs, a shoe, a cap, a tote bag...) filled
with a realistic shade of the product colour, shaded and patterned (stripes, checks,
dots, flowers or a graphic print), on a varied background (white studio, light grey,
gradient, textured, coloured wall), sometimes with a soft shadow. Everything is numpy
and Pillow, deterministic from the seed, and fast enough to render a few thousand
images for a demo catalogue in seconds.

The values used here are the taxonomy ids the tagging engine predicts, so what was
drawn can be compared with what was tagged.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CATEGORIES: tuple[str, ...] = (
    "t-shirt",
    "shirt",
    "tank-top",
    "hoodie",
    "sweater",
    "jacket",
    "dress",
    "skirt",
    "pants",
    "shorts",
    "shoes",
    "hat",
    "bag",
)
PATTERNS: tuple[str, ...] = ("solid", "striped", "checked", "dotted", "floral", "graphic")

# Realistic shades per colour id (sRGB). A product's colour is one of these, jittered.
COLOR_SHADES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "black": ((22, 22, 24), (34, 32, 34), (28, 30, 38)),
    "white": ((246, 246, 243), (238, 237, 230), (250, 248, 242)),
    "gray": ((128, 128, 128), (102, 104, 108), (160, 160, 158)),
    "red": ((196, 30, 36), (168, 22, 32), (218, 52, 48)),
    "orange": ((238, 118, 32), (222, 98, 22), (248, 142, 58)),
    "yellow": ((244, 208, 42), (234, 188, 30), (250, 222, 92)),
    "green": ((42, 138, 62), (32, 100, 48), (92, 158, 80)),
    "blue": ((42, 100, 198), (62, 132, 218), (32, 82, 168)),
    "navy": ((26, 36, 82), (20, 30, 64), (36, 46, 100)),
    "purple": ((110, 52, 150), (132, 72, 170), (88, 40, 118)),
    "pink": ((238, 140, 178), (228, 108, 158), (248, 176, 200)),
    "brown": ((110, 70, 40), (132, 86, 52), (88, 56, 32)),
    "beige": ((220, 200, 166), (210, 190, 152), (230, 216, 186)),
}
COLORS: tuple[str, ...] = tuple(COLOR_SHADES)

BACKGROUNDS: tuple[str, ...] = ("studio", "grey", "gradient", "texture", "wall")
_BACKGROUND_WEIGHTS = (0.34, 0.22, 0.18, 0.14, 0.12)

_ANCHORS = np.array([s for c in COLORS for s in COLOR_SHADES[c]], dtype=np.float32)
_ANCHOR_NAMES = [c for c in COLORS for _ in COLOR_SHADES[c]]


def nearest_color(rgb) -> str:
    """The colour id whose shades are nearest to ``rgb`` (Euclidean in sRGB)."""
    d = ((_ANCHORS - np.asarray(rgb, dtype=np.float32)) ** 2).sum(axis=1)
    return _ANCHOR_NAMES[int(d.argmin())]


def product_shade(color: str, rng: np.random.Generator) -> np.ndarray:
    """A realistic shade of ``color``: one of its shades jittered, still nearest to it."""
    shades = COLOR_SHADES[color]
    base = np.array(shades[int(rng.integers(len(shades)))], dtype=np.float32)
    sigma = 3.0 if color in ("black", "white", "gray") else 7.0  # neutrals stay neutral
    for _ in range(8):
        cand = np.clip(base + rng.normal(0.0, sigma, 3), 0, 255)
        if nearest_color(cand) == color:
            return cand.astype(np.float32)
    return base


@dataclass(frozen=True)
class Rendering:
    """One rendered product photo and what was drawn."""

    image: np.ndarray  # uint8, H x W x 3
    mask: np.ndarray  # bool, H x W: pixels of the product
    category: str
    color: str
    pattern: str
    shade: tuple[int, int, int]  # the product colour actually used
    background: str
    shadow: bool

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.image, "RGB")


# ---------------------------------------------------------------- silhouettes


def _mirror(left: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A symmetric outline from its left half (listed top to bottom)."""
    return left + [(1.0 - x, y) for x, y in reversed(left)]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 8):
    return [
        (cx + rx * math.cos(a0 + (a1 - a0) * i / n), cy + ry * math.sin(a0 + (a1 - a0) * i / n))
        for i in range(n + 1)
    ]


@dataclass
class _Outline:
    """A silhouette in the unit square: filled polygons and ellipses, the details drawn
    on it, and the part that carries colour and pattern when not the whole mask (shoes)."""

    polys: list[list[tuple[float, float]]] = field(default_factory=list)
    ellipses: list[tuple[float, float, float, float]] = field(default_factory=list)
    details: list[tuple[str, list]] = field(default_factory=list)
    upper: list[list[tuple[float, float]]] | None = None


# One outline per category; ``w``, ``L`` and ``s`` jitter body width, length and sleeves.


def _t_shirt(o: _Outline, w: float, L: float, s: float) -> None:
    left = [
        (0.40, 0.15),
        (0.27 - w, 0.18),
        (0.10 - w - s, 0.38),
        (0.21 - w - s, 0.45),
        (0.30 - w, 0.36),
        (0.30 - w, 0.87 + L),
    ]
    o.polys.append(_mirror(left) + _arc(0.5, 0.15, 0.10, 0.06, 0.0, math.pi)[1:-1])
    o.details.append(("line", [(0.21 - w - s, 0.45), (0.30 - w, 0.36)]))
    o.details.append(("line", _arc(0.5, 0.15, 0.10, 0.06, 0.0, math.pi)))


def _tank_top(o: _Outline, w: float, L: float, s: float) -> None:
    neck = _arc(0.5, 0.09, 0.08, 0.17 + L / 2, math.pi, 0.0)  # scoop neckline
    o.polys.append(
        [(0.35 - w, 0.09), (0.42, 0.09)]
        + neck[1:-1]
        + [
            (0.58, 0.09),
            (0.65 + w, 0.09),
            (0.67 + w, 0.22),
            (0.69 + w, 0.36),
            (0.68 + w, 0.88 + L),
            (0.32 - w, 0.88 + L),
            (0.31 - w, 0.36),
            (0.33 - w, 0.22),
        ]
    )
    o.details.append(("line", [(0.32 - w, 0.84 + L), (0.68 + w, 0.84 + L)]))


def _shirt(o: _Outline, w: float, L: float, s: float) -> None:
    left = [
        (0.41, 0.12),
        (0.27 - w, 0.16),
        (0.06 - w - s, 0.70),
        (0.15 - w - s, 0.73),
        (0.30 - w, 0.38),
        (0.30 - w, 0.86 + L),
        (0.40, 0.90 + L),
    ]
    o.polys.append(_mirror(left))
    o.polys.append(
        [
            (0.41, 0.06),
            (0.59, 0.06),
            (0.60, 0.13),
            (0.56, 0.24),
            (0.5, 0.15),
            (0.44, 0.24),
            (0.40, 0.13),
        ]
    )  # collar
    o.details.append(("line", [(0.44, 0.24), (0.5, 0.15), (0.56, 0.24)]))
    o.details.append(("line", [(0.5, 0.17), (0.5, 0.90 + L)]))
    o.details.append(("dots", [(0.515, 0.26 + 0.11 * k) for k in range(6)]))
    o.details.append(("line", [(0.08 - w - s, 0.64), (0.17 - w - s, 0.67)]))
    o.details.append(("line", [(1 - 0.08 + w + s, 0.64), (1 - 0.17 + w + s, 0.67)]))


def _sweater(o: _Outline, w: float, L: float, s: float) -> None:
    left = [
        (0.40, 0.17),
        (0.26 - w, 0.20),
        (0.19 - w - s, 0.44),
        (0.17 - w - s, 0.82),
        (0.26 - w - s, 0.83),
        (0.29 - w, 0.48),
        (0.29 - w, 0.80 + L),
    ]
    neck = _arc(0.5, 0.17, 0.10, 0.05, 0.0, math.pi)
    o.polys.append(_mirror(left) + neck[1:-1])
    o.details.append(("line", [(0.29 - w, 0.75 + L), (0.71 + w, 0.75 + L)]))  # ribbed hem
    o.details.append(("line", [(0.17 - w - s, 0.78), (0.26 - w - s, 0.79)]))
    o.details.append(("line", [(0.83 + w + s, 0.78), (0.74 + w + s, 0.79)]))
    o.details.append(("line", neck))


def _hoodie(o: _Outline, w: float, L: float, s: float) -> None:
    left = [
        (0.40, 0.17),
        (0.28 - w, 0.20),
        (0.13 - w - s, 0.70),
        (0.22 - w - s, 0.73),
        (0.30 - w, 0.45),
        (0.30 - w, 0.90 + L),
    ]
    o.polys.append(_mirror(left))
    o.ellipses.append((0.5, 0.14, 0.17, 0.13))  # hood
    o.details.append(("line", _arc(0.5, 0.16, 0.10, 0.08, math.pi * 0.1, math.pi * 0.9)))
    o.details.append(
        ("line", [(0.37, 0.62), (0.63, 0.62), (0.67, 0.78), (0.33, 0.78), (0.37, 0.62)])
    )  # kangaroo pocket
    o.details.append(("line", [(0.46, 0.24), (0.45, 0.40)]))  # drawstrings
    o.details.append(("line", [(0.54, 0.24), (0.55, 0.40)]))
    o.details.append(("line", [(0.30 - w, 0.85 + L), (0.70 + w, 0.85 + L)]))


def _jacket(o: _Outline, w: float, L: float, s: float) -> None:
    left = [
        (0.41, 0.10),
        (0.23 - w, 0.15),
        (0.16 - w - s, 0.36),
        (0.10 - w - s, 0.79),
        (0.20 - w - s, 0.80),
        (0.27 - w, 0.42),
        (0.26 - w, 0.88 + L),
    ]
    o.polys.append(_mirror(left))
    o.polys.append([(0.40, 0.05), (0.60, 0.05), (0.61, 0.14), (0.39, 0.14)])  # collar stand
    o.details.append(("zip", [(0.5, 0.06), (0.5, 0.88 + L)]))
    o.details.append(("line", [(0.31, 0.62), (0.40, 0.62)]))
    o.details.append(("line", [(0.60, 0.62), (0.69, 0.62)]))
    o.details.append(("line", [(0.26 - w, 0.84 + L), (0.74 + w, 0.84 + L)]))


def _dress(o: _Outline, w: float, L: float, s: float) -> None:
    o.polys.append(
        [
            (0.37 - w, 0.07),
            (0.43, 0.07),
            (0.5, 0.19),
            (0.57, 0.07),
            (0.63 + w, 0.07),
            (0.64 + w, 0.24),
            (0.61 + w, 0.41),
            (0.80 + w + s, 0.91 + L),
            (0.5, 0.94 + L),
            (0.20 - w - s, 0.91 + L),
            (0.39 - w, 0.41),
            (0.36 - w, 0.24),
        ]
    )
    o.details.append(("line", [(0.39 - w, 0.41), (0.5, 0.43), (0.61 + w, 0.41)]))


def _skirt(o: _Outline, w: float, L: float, s: float) -> None:
    o.polys.append(
        [
            (0.33 - w, 0.20),
            (0.67 + w, 0.20),
            (0.68 + w, 0.28),
            (0.81 + w + s, 0.78 + L),
            (0.5, 0.81 + L),
            (0.19 - w - s, 0.78 + L),
            (0.32 - w, 0.28),
        ]
    )
    o.details.append(("line", [(0.32 - w, 0.28), (0.68 + w, 0.28)]))
    o.details.append(("line", [(0.42, 0.30), (0.38, 0.78 + L)]))
    o.details.append(("line", [(0.58, 0.30), (0.62, 0.78 + L)]))


def _pants(o: _Outline, w: float, L: float, s: float) -> None:
    o.polys.append(
        [
            (0.30 - w, 0.07),
            (0.70 + w, 0.07),
            (0.72 + w, 0.40),
            (0.73 + w + s, 0.94 + L),
            (0.55, 0.94 + L),
            (0.5, 0.36),
            (0.45, 0.94 + L),
            (0.27 - w - s, 0.94 + L),
            (0.28 - w, 0.40),
        ]
    )
    o.details.append(("line", [(0.30 - w, 0.13), (0.70 + w, 0.13)]))
    o.details.append(("line", [(0.5, 0.13), (0.5, 0.30)]))
    o.details.append(("line", [(0.34, 0.13), (0.40, 0.22)]))
    o.details.append(("line", [(0.66, 0.13), (0.60, 0.22)]))


def _shorts(o: _Outline, w: float, L: float, s: float) -> None:
    o.polys.append(
        [
            (0.27 - w, 0.24),
            (0.73 + w, 0.24),
            (0.76 + w, 0.42),
            (0.80 + w + s, 0.64 + L),
            (0.54, 0.66 + L),
            (0.5, 0.50),
            (0.46, 0.66 + L),
            (0.20 - w - s, 0.64 + L),
            (0.24 - w, 0.42),
        ]
    )
    o.details.append(("line", [(0.27 - w, 0.30), (0.73 + w, 0.30)]))
    o.details.append(("line", [(0.5, 0.30), (0.5, 0.44)]))


def _shoes(o: _Outline, w: float, L: float, s: float) -> None:
    up = [
        (0.13 - w, 0.67),
        (0.12 - w, 0.45),
        (0.17 - w, 0.37),
        (0.30, 0.42),
        (0.40, 0.34 - s),
        (0.48, 0.35 - s),
        (0.62, 0.47),
        (0.80 + w, 0.54),
        (0.89 + w, 0.60),
        (0.91 + w, 0.67),
    ]
    sole = [(0.10 - w, 0.66), (0.93 + w, 0.66), (0.92 + w, 0.72), (0.12 - w, 0.73)]
    o.polys.append(up)
    o.polys.append(sole)
    o.upper = [up]
    o.details.append(("sole", sole))
    o.details.append(("line", [(0.42, 0.38), (0.50, 0.43)]))
    o.details.append(("line", [(0.47, 0.40), (0.55, 0.45)]))
    o.details.append(("line", [(0.52, 0.43), (0.60, 0.48)]))
    o.details.append(("line", [(0.20, 0.50), (0.55, 0.62), (0.80, 0.60)]))


def _hat(o: _Outline, w: float, L: float, s: float) -> None:
    dome = _arc(0.44, 0.60, 0.27 + w, 0.30 + s, math.pi, 2 * math.pi, 16)
    o.polys.append(dome)
    o.polys.append(
        [(0.60, 0.55), (0.93 + L, 0.62), (0.92 + L, 0.66), (0.64, 0.64), (0.44, 0.62)]
    )  # brim
    o.ellipses.append((0.44, 0.30 - s, 0.025, 0.02))  # button
    o.details.append(("line", [(0.44, 0.31 - s), (0.50, 0.60)]))
    o.details.append(("line", [(0.44, 0.31 - s), (0.31, 0.60)]))


def _bag(o: _Outline, w: float, L: float, s: float) -> None:
    o.polys.append([(0.22 - w, 0.40), (0.78 + w, 0.40), (0.83 + w, 0.88 + L), (0.17 - w, 0.88 + L)])
    o.details.append(("handle", [(0.34, 0.14 - s, 0.66, 0.66)]))
    o.details.append(("line", [(0.21 - w, 0.47), (0.79 + w, 0.47)]))


_OUTLINES = {
    "t-shirt": _t_shirt,
    "tank-top": _tank_top,
    "shirt": _shirt,
    "sweater": _sweater,
    "hoodie": _hoodie,
    "jacket": _jacket,
    "dress": _dress,
    "skirt": _skirt,
    "pants": _pants,
    "shorts": _shorts,
    "shoes": _shoes,
    "hat": _hat,
    "bag": _bag,
}


def _shapes(category: str, j: np.ndarray):
    """Polygons/ellipses (unit square) for ``category``; ``j`` holds jitter in [-1, 1]."""
    w = 0.02 * j[0]  # body width jitter
    L = 0.03 * j[1]  # length jitter
    s = 0.03 * j[2]  # sleeve jitter
    outline = _OUTLINES.get(category)
    if outline is None:
        raise ValueError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    o = _Outline()
    outline(o, w, L, s)
    return o.polys, o.ellipses, o.details, o.upper


def _to_px(points, size: int, scale: float, dx: float, dy: float):
    return [
        ((x - 0.5) * scale * size + size / 2 + dx, (y - 0.5) * scale * size + size / 2 + dy)
        for x, y in points
    ]


def _draw_mask(size, polys, ellipses, details, scale, dx, dy) -> Image.Image:
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    for poly in polys:
        draw.polygon(_to_px(poly, size, scale, dx, dy), fill=255)
    for cx, cy, rx, ry in ellipses:
        (x0, y0), (x1, y1) = _to_px([(cx - rx, cy - ry), (cx + rx, cy + ry)], size, scale, dx, dy)
        draw.ellipse([x0, y0, x1, y1], fill=255)
    for kind, pts in details:
        if kind == "handle":
            x0, y0, x1, y1 = pts[0]
            (a, b), (c, d) = _to_px([(x0, y0), (x1, y1)], size, scale, dx, dy)
            draw.arc([a, b, c, d], 180, 360, fill=255, width=max(3, int(0.035 * scale * size)))
    return img


def silhouette_mask(category: str, *, size: int = 320, seed: int | None = None) -> np.ndarray:
    """The boolean mask of a category's silhouette (centred, unjittered when no seed)."""
    rng = np.random.default_rng(seed)
    jit = rng.uniform(-1, 1, 3) if seed is not None else np.zeros(3)
    polys, ellipses, details, _ = _shapes(category, jit)
    return np.asarray(_draw_mask(size, polys, ellipses, details, 0.9, 0.0, 0.0)) > 127


# ---------------------------------------------------------------- pixels


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy, xx


def _contrast_color(shade: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A secondary colour for a pattern that stands out from ``shade``."""
    lum = float(shade @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    if rng.random() < 0.5:
        pick = "white" if lum < 140 else rng.choice(["black", "navy"])
    else:
        pick = rng.choice([c for c in COLORS if c != nearest_color(shade)])
    col = np.array(COLOR_SHADES[str(pick)][0], dtype=np.float32)
    if float(np.abs(col - shade).sum()) < 120:  # too close: fall back to black or white
        col = np.array((245, 245, 240) if lum < 140 else (25, 25, 30), dtype=np.float32)
    return col


def _background(size: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    kind = str(rng.choice(BACKGROUNDS, p=_BACKGROUND_WEIGHTS))
    yy, xx = _grid(size)
    if kind == "studio":
        v = rng.uniform(242, 255)
        r = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / (size * size / 2)
        lum = v - rng.uniform(4, 14) * r  # soft vignette
        bg = np.repeat(lum[:, :, None], 3, axis=2)
    elif kind == "grey":
        v = rng.uniform(205, 232)
        bg = np.full((size, size, 3), v, dtype=np.float32) + rng.uniform(-3, 3, 3).astype(
            np.float32
        )
    elif kind == "gradient":
        top = rng.uniform(200, 252, 3).astype(np.float32)
        bottom = rng.uniform(170, 240, 3).astype(np.float32)
        t = (yy / (size - 1))[:, :, None]
        bg = top * (1 - t) + bottom * t
    elif kind == "texture":
        base = rng.uniform(215, 245, 3).astype(np.float32)
        low = rng.normal(0, 1, (size // 16, size // 16)).astype(np.float32)
        smooth = (
            np.asarray(
                Image.fromarray(((low + 3) * 40).clip(0, 255).astype(np.uint8)).resize(
                    (size, size), Image.BILINEAR
                ),
                dtype=np.float32,
            )
            / 40
            - 3
        )
        grain = rng.normal(0, 3.0, (size, size)).astype(np.float32)
        bg = base + (smooth * 6 + grain)[:, :, None]
    else:  # wall: a muted coloured wall, floor line
        hue = np.array(COLOR_SHADES[str(rng.choice(COLORS[3:]))][0], dtype=np.float32)
        wall = hue * 0.35 + 160
        floor = wall * 0.85
        line = rng.uniform(0.78, 0.9) * size
        bg = np.where((yy > line)[:, :, None], floor, wall).astype(np.float32)
    return bg.astype(np.float32), kind


def _striped(xx, yy, rng, col):
    period = rng.uniform(12, 26)
    frac = rng.uniform(0.25, 0.4)
    ang = 0.0 if rng.random() < 0.75 else math.pi / 2
    u = xx * math.sin(ang) + yy * math.cos(ang) + rng.uniform(0, period)
    alpha = ((u % period) < period * frac).astype(np.float32)
    return [(alpha, col)]


def _checked(xx, yy, rng, col):
    period = rng.uniform(16, 30)
    frac = rng.uniform(0.22, 0.3)
    a = ((xx + rng.uniform(0, period)) % period) < period * frac
    b = ((yy + rng.uniform(0, period)) % period) < period * frac
    return [((a | b).astype(np.float32) * 0.55 + (a & b).astype(np.float32) * 0.35, col)]


def _dotted(xx, yy, rng, col):
    period = rng.uniform(14, 24)
    r = period * rng.uniform(0.13, 0.22)
    row = np.floor(yy / period)
    dx = (xx + row * period / 2) % period - period / 2
    dy = yy % period - period / 2
    alpha = np.clip(r + 0.5 - np.sqrt(dx * dx + dy * dy), 0, 1)
    return [(alpha.astype(np.float32), col)]


def _floral(size, crop, bbox, rng, shade, col):
    x0, y0, x1, y1 = bbox
    bw, bh = max(x1 - x0, 1), max(y1 - y0, 1)
    petals = Image.new("L", (size, size), 0)
    centres = Image.new("L", (size, size), 0)
    dp, dc = ImageDraw.Draw(petals), ImageDraw.Draw(centres)
    step = rng.uniform(34, 46)
    pr = step * rng.uniform(0.11, 0.14)
    ny, nx = int(bh / step) + 2, int(bw / step) + 2
    for iy in range(ny):
        for ix in range(nx):
            cx = x0 + (ix + 0.5 * (iy % 2)) * step + rng.uniform(-5, 5)
            cy = y0 + iy * step + rng.uniform(-5, 5)
            rot = rng.uniform(0, 2 * math.pi)
            for k in range(5):
                a = rot + k * 2 * math.pi / 5
                px, py = cx + 1.3 * pr * math.cos(a), cy + 1.3 * pr * math.sin(a)
                dp.ellipse([px - pr, py - pr, px + pr, py + pr], fill=255)
            dc.ellipse([cx - pr * 0.6, cy - pr * 0.6, cx + pr * 0.6, cy + pr * 0.6], fill=255)
    centre_col = np.array(COLOR_SHADES["yellow"][0], dtype=np.float32)
    if float(np.abs(centre_col - shade).sum()) < 120:
        centre_col = np.array((250, 250, 245), dtype=np.float32)
    return [
        (np.asarray(petals, dtype=np.float32)[crop] / 255, col),
        (np.asarray(centres, dtype=np.float32)[crop] / 255, centre_col),
    ]


def _motif(d: ImageDraw.ImageDraw, kind: int, cx: float, cy: float, r: float) -> None:
    """Draw graphic print ``kind`` (star, ring with a bar, mountains, letters) at (cx, cy)."""
    if kind == 0:  # star
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r * 0.45
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        d.polygon(pts, fill=255)
    elif kind == 1:  # ring with a bar
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=max(3, int(r / 4)))
        d.rectangle([cx - r * 0.9, cy - r * 0.15, cx + r * 0.9, cy + r * 0.15], fill=255)
    elif kind == 2:  # mountains and sun
        d.polygon(
            [
                (cx - r * 1.2, cy + r * 0.6),
                (cx - r * 0.3, cy - r * 0.5),
                (cx + 0.2 * r, cy + r * 0.1),
                (cx + r * 0.6, cy - r * 0.2),
                (cx + r * 1.2, cy + r * 0.6),
            ],
            fill=255,
        )
        d.ellipse([cx + r * 0.3, cy - r * 1.0, cx + r * 0.8, cy - r * 0.5], fill=255)
    else:  # block lettering
        bwid = r * 0.45
        for k in range(3):
            lx = cx - r * 1.1 + k * (bwid + r * 0.3)
            d.rectangle([lx, cy - r * 0.6, lx + bwid, cy + r * 0.6], fill=255)
            d.rectangle([lx, cy - r * 0.6, lx + bwid * 1.6, cy - r * 0.3], fill=255)


def _graphic(size, crop, bbox, rng, col):
    x0, y0, x1, y1 = bbox
    bw, bh = max(x1 - x0, 1), max(y1 - y0, 1)
    layer = Image.new("L", (size, size), 0)
    cx, cy = (x0 + x1) / 2, y0 + bh * rng.uniform(0.38, 0.5)
    r = min(bw, bh) * rng.uniform(0.17, 0.22)
    _motif(ImageDraw.Draw(layer), int(rng.integers(4)), cx, cy, r)
    return [(np.asarray(layer, dtype=np.float32)[crop] / 255, col)]


def _pattern_layers(pattern, size, crop, bbox, rng, shade):
    """(alpha, rgb) layers, cropped to ``crop``, to paint over the product's base colour."""
    if pattern == "solid":
        return []
    yy, xx = (g[crop] for g in _grid(size))
    col = _contrast_color(shade, rng)
    if pattern == "striped":
        return _striped(xx, yy, rng, col)
    if pattern == "checked":
        return _checked(xx, yy, rng, col)
    if pattern == "dotted":
        return _dotted(xx, yy, rng, col)
    if pattern == "floral":
        return _floral(size, crop, bbox, rng, shade, col)
    if pattern == "graphic":
        return _graphic(size, crop, bbox, rng, col)
    raise ValueError(f"unknown pattern {pattern!r}; use one of {', '.join(PATTERNS)}")


def _cast_shadow(bg: np.ndarray, mask_img: Image.Image, size: int, rng) -> np.ndarray:
    """``bg`` darkened by a soft shadow of the product, offset down and to the right."""
    off = mask_img.transform(mask_img.size, Image.AFFINE, (1, 0, -size * 0.02, 0, 1, -size * 0.03))
    sh = np.asarray(off.filter(ImageFilter.BoxBlur(size * 0.025)), dtype=np.float32) / 255
    return bg * (1 - rng.uniform(0.18, 0.3) * sh)[:, :, None]


def _bbox_and_crop(mask: np.ndarray):
    """The product's bounding box (x0, y0, x1, y1) and the padded crop around it."""
    ys, xs = np.nonzero(mask)
    bbox = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    pad = 3  # the soft edge of alpha reaches a little past the mask
    crop = (
        slice(max(bbox[1] - pad, 0), bbox[3] + pad + 1),
        slice(max(bbox[0] - pad, 0), bbox[2] + pad + 1),
    )
    return bbox, crop


def _lighting(mask_img: Image.Image, crop, size: int, rng) -> np.ndarray:
    """Brightness over the crop: a light gradient, folds, darker towards the outline."""
    yy, xx = (g[crop] for g in _grid(size))
    gx, gy = rng.uniform(-0.12, 0.12, 2) / size
    light = 1.0 + gx * (xx - size / 2) + gy * (yy - size / 2)
    light += 0.035 * np.sin(xx * rng.uniform(0.03, 0.07) + rng.uniform(0, 6.3))  # folds
    edge = np.asarray(mask_img.filter(ImageFilter.BoxBlur(size * 0.02)), dtype=np.float32)
    light *= 0.86 + 0.14 / 255 * edge[crop]  # darker towards the outline: a little volume
    return light


def _draw_details(fg, details, light3, crop, size, scale, dx, dy, rng) -> np.ndarray:
    """``fg`` with seams, buttons, zips and soles drawn on (in the order listed)."""
    det = Image.new("L", (size, size), 0)
    dd = ImageDraw.Draw(det)
    lw = max(1, size // 160)
    for kind, pts in details:
        if kind == "line":
            dd.line(_to_px(pts, size, scale, dx, dy), fill=255, width=lw)
        elif kind == "dots":
            for x, y in _to_px(pts, size, scale, dx, dy):
                dd.ellipse([x - 2 * lw, y - 2 * lw, x + 2 * lw, y + 2 * lw], fill=255)
        elif kind in ("zip", "sole"):
            layer = Image.new("L", (size, size), 0)
            ld = ImageDraw.Draw(layer)
            if kind == "zip":
                ld.line(_to_px(pts, size, scale, dx, dy), fill=255, width=3 * lw)
                tone = np.array((150, 150, 155), dtype=np.float32)
            else:
                ld.polygon(_to_px(pts, size, scale, dx, dy), fill=255)
                tone = np.array(
                    (238, 236, 228) if rng.random() < 0.7 else (60, 55, 50), dtype=np.float32
                )
            a = np.asarray(layer, dtype=np.float32)[crop][:, :, None] / 255
            fg = fg * (1 - a) + tone * light3 * a
    seams = np.asarray(det, dtype=np.float32)[crop][:, :, None] / 255
    fg *= 1 - 0.35 * seams
    return fg


def render(
    category: str, color: str, pattern: str = "solid", *, seed: int = 0, size: int = 320
) -> Rendering:
    """Render one product photo of ``category`` in ``color`` with ``pattern``."""
    if color not in COLOR_SHADES:
        raise ValueError(f"unknown color {color!r}; use one of {', '.join(COLORS)}")
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; use one of {', '.join(PATTERNS)}")
    rng = np.random.default_rng(seed)
    polys, ellipses, details, upper = _shapes(category, rng.uniform(-1, 1, 3))
    scale = rng.uniform(0.78, 0.94)
    dx, dy = rng.uniform(-0.04, 0.04, 2) * size
    mask_img = _draw_mask(size, polys, ellipses, details, scale, dx, dy)
    mask = np.asarray(mask_img) > 127
    alpha = np.asarray(mask_img.filter(ImageFilter.GaussianBlur(0.7)), dtype=np.float32) / 255

    bg, bg_kind = _background(size, rng)
    shadow = bool(rng.random() < 0.45)
    if shadow:
        bg = _cast_shadow(bg, mask_img, size, rng)

    shade = product_shade(color, rng)
    bbox, crop = _bbox_and_crop(mask)
    light = _lighting(mask_img, crop, size, rng)
    light3 = light[:, :, None]
    fg = np.broadcast_to(shade, (*light.shape, 3)).copy()
    pmask = mask_img
    if upper is not None:  # shoes: only the upper is coloured and patterned
        pmask = Image.new("L", (size, size), 0)
        ImageDraw.Draw(pmask).polygon(_to_px(upper[0], size, scale, dx, dy), fill=255)
    parea = np.asarray(pmask, dtype=np.float32)[crop] / 255
    for layer, col in _pattern_layers(pattern, size, crop, bbox, rng, shade):
        a = (layer * parea)[:, :, None]
        fg = fg * (1 - a) + col * a
    fg *= light3
    fg = _draw_details(fg, details, light3, crop, size, scale, dx, dy, rng)

    a = alpha[crop][:, :, None]
    bg[crop] = bg[crop] * (1 - a) + fg * a
    out = np.clip(bg, 0, 255).astype(np.uint8)
    return Rendering(
        image=out,
        mask=mask,
        category=category,
        color=color,
        pattern=pattern,
        shade=tuple(int(v) for v in shade),
        background=bg_kind,
        shadow=shadow,
    )


def encode(rendering: Rendering, fmt: str = "JPEG", quality: int = 90) -> bytes:
    """The rendering as image file bytes (JPEG by default, or PNG)."""
    buf = io.BytesIO()
    if fmt.upper() == "PNG":
        rendering.to_pil().save(buf, "PNG", compress_level=1)
    else:
        rendering.to_pil().save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def render_to_file(
    path: Path, category: str, color: str, pattern: str = "solid", *, seed: int = 0, size: int = 320
) -> Rendering:
    """Render and write one image; the format follows the suffix (.png or JPEG)."""
    rendering = render(category, color, pattern, seed=seed, size=size)
    fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(rendering, fmt))
    return rendering
