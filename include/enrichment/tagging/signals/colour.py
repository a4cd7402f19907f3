"""Pixel colour signal: the product's primary and secondary colour from its photo.

Steps, all in numpy on a downscaled copy (longest side ``size`` px, 128 by default):

1. CIELAB conversion (sRGB, D65).
2. Background: the image border is clustered (small k-means in Lab); every cluster
   holding at least 8 % of the border is a background mode (studio white/grey,
   or several modes for a cluttered room). Pixels close to a mode (CIE76 distance
   below a threshold that widens with the mode's own spread) *and* connected to the
   border are background; enclosed regions of the same colour stay foreground. If
   almost nothing is left (a white shirt on white), the central ellipse is used.
3. Skin: pixels in the skin-tone region of Lab (hue 25-68 degrees, moderate chroma)
   are dropped, unless they make up most of the foreground (then the product itself
   is skin-coloured: beige, tan, brown).
4. Spatial prior: on-model photos show other garments too, so pixels are weighted
   by a soft prior centred horizontally and, when the category is known, vertically
   where that garment sits (upper body, lower body, or the whole frame).
5. Naming: each pixel takes the colour of its nearest taxonomy swatch by CIE94 with
   textile weights (kL=2: lightness differences from folds and shading count half).
   Near-neutral pixels (chroma < 5) may only be black, white or grey; lightness then
   decides, and navy/blue, beige/brown/white are separated by their swatches.

The result is the weighted share of each colour among foreground pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from enrichment.tagging.taxonomy import Taxonomy

DEFAULT_SIZE = 128
DEFAULT_SOFTNESS = 2.0  # CIE94 units: how gradually a pixel's membership moves between names
_ACHROMATIC_CHROMA = 5.0
_MIN_MODE_SHARE = 0.08
_MIN_FOREGROUND = 0.03
_SECONDARY_MIN_SHARE = 0.12
_REGION_PRIOR = {"upper": (0.38, 0.25), "lower": (0.60, 0.30), "full": (0.5, 0.6), None: (0.5, 0.6)}


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB values 0-255 (shape ``(..., 3)``) to CIELAB (D65), float32."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ],
        dtype=np.float32,
    )
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    lab = np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )
    return lab.astype(np.float32)


def hex_to_rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@dataclass
class ColourResult:
    """Weighted share of each colour among foreground pixels (shares sum to 1)."""

    shares: dict[str, float]
    foreground_fraction: float
    used_fallback: bool = False

    @property
    def primary(self) -> str | None:
        return max(self.shares, key=self.shares.__getitem__) if self.shares else None

    @property
    def secondary(self) -> str | None:
        ranked = sorted(self.shares.items(), key=lambda kv: -kv[1])
        if len(ranked) > 1 and ranked[1][1] >= _SECONDARY_MIN_SHARE:
            return ranked[1][0]
        return None

    def distribution(self, sharpen: float = 2.0) -> dict[str, float]:
        """Shares raised to ``sharpen`` and renormalised: a probability-like score.

        Sharpening reflects that the runner-up colours are mostly other garments,
        skin, hair and shadow, so a clear plurality is stronger evidence than its
        raw share suggests.
        """
        powered = {k: v**sharpen for k, v in self.shares.items() if v > 0}
        total = sum(powered.values())
        return {k: v / total for k, v in powered.items()} if total else {}


def _kmeans(points: np.ndarray, k: int, iters: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Tiny deterministic k-means (farthest-point init); returns centres and labels."""
    centres = [np.median(points, axis=0)]
    for _ in range(1, k):
        d = np.min(((points[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        if d.max() < 4.0:
            break
        centres.append(points[int(d.argmax())])
    c = np.asarray(centres, dtype=np.float32)
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(iters):
        labels = ((points[:, None, :] - c[None]) ** 2).sum(-1).argmin(1)
        for j in range(len(c)):
            members = points[labels == j]
            if len(members):
                c[j] = members.mean(0)
    return c, labels


def _border_mask(h: int, w: int) -> np.ndarray:
    b = max(2, round(0.04 * min(h, w)))
    mask = np.zeros((h, w), dtype=bool)
    mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = True, True, True, True
    return mask


def _border_sides(h: int, w: int) -> np.ndarray:
    """Which side (0 top, 1 bottom, 2 left, 3 right) each border pixel belongs to."""
    b = max(2, round(0.04 * min(h, w)))
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.stack([yy, h - 1 - yy, xx, w - 1 - xx])
    side = dist.argmin(0)
    side[dist.min(0) >= b] = -1
    return side


def _flood_from_border(candidate: np.ndarray, border: np.ndarray) -> np.ndarray:
    """Pixels of ``candidate`` 4-connected to the border through ``candidate``."""
    reach = candidate & border
    while True:
        grown = reach.copy()
        grown[1:] |= reach[:-1]
        grown[:-1] |= reach[1:]
        grown[:, 1:] |= reach[:, :-1]
        grown[:, :-1] |= reach[:, 1:]
        grown &= candidate
        if np.array_equal(grown, reach):
            return reach
        reach = grown


def foreground_mask(lab: np.ndarray) -> tuple[np.ndarray, bool]:
    """Foreground (product) mask of a Lab image; second item: central fallback used."""
    h, w, _ = lab.shape
    border = _border_mask(h, w)
    pts = lab[border]
    side = _border_sides(h, w)[border]
    centres, labels = _kmeans(pts, k=4)
    background_like = np.zeros((h, w), dtype=bool)
    for j, centre in enumerate(centres):
        in_mode = labels == j
        members = pts[in_mode]
        if len(members) < _MIN_MODE_SHARE * len(pts):
            continue
        # a real background surrounds the product: it shows on at least two sides
        # (legs or a garment cut off at the bottom edge show on one side only)
        sides_present = sum(in_mode[side == s].mean() >= 0.10 for s in range(4))
        if sides_present < 2:
            continue
        spread = float(np.sqrt(((members - centre) ** 2).sum(-1)).mean())
        threshold = float(np.clip(8.0 + 2.0 * spread, 8.0, 24.0))
        background_like |= np.sqrt(((lab - centre) ** 2).sum(-1)) < threshold
    fg = ~_flood_from_border(background_like, border)
    # peel one pixel off the outline: edge pixels blend product and background
    core = fg.copy()
    core[1:] &= fg[:-1]
    core[:-1] &= fg[1:]
    core[:, 1:] &= fg[:, :-1]
    core[:, :-1] &= fg[:, 1:]
    if core.mean() >= _MIN_FOREGROUND:
        return core, False
    if fg.mean() >= _MIN_FOREGROUND:
        return fg, False
    yy, xx = np.mgrid[0:h, 0:w]
    ellipse = ((yy - h / 2) / (0.3 * h)) ** 2 + ((xx - w / 2) / (0.3 * w)) ** 2 <= 1
    return ellipse, True


def skin_mask(lab: np.ndarray) -> np.ndarray:
    """Pixels whose Lab colour lies in the range of human skin tones."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a))
    return (L > 20) & (L < 92) & (chroma > 9) & (chroma < 42) & (hue > 25) & (hue < 68) & (a > 5)


def spatial_prior(h: int, w: int, region: str | None) -> np.ndarray:
    """Soft weight map: centred horizontally, vertically where the garment sits."""
    mu, sigma = _REGION_PRIOR.get(region, _REGION_PRIOR[None])
    y = (np.arange(h, dtype=np.float32) + 0.5) / h
    x = (np.arange(w, dtype=np.float32) + 0.5) / w
    gy = np.exp(-0.5 * ((y - mu) / sigma) ** 2)
    gx = np.exp(-0.5 * ((x - 0.5) / 0.3) ** 2)
    return 0.2 + 0.8 * np.outer(gy, gx)


class ColourNamer:
    """Names product colours with the taxonomy's colour swatches; reuse per taxonomy."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        size: int | None = DEFAULT_SIZE,
        attribute: str = "color",
        softness: float = DEFAULT_SOFTNESS,
    ) -> None:
        self.size = size
        self.softness = softness
        attr = taxonomy.attribute(attribute)
        names, rgbs = [], []
        for value in attr.values:
            for sw in value.swatches:
                names.append(value.id)
                rgbs.append(hex_to_rgb(sw))
        self._names = np.array(names)
        self._lab = srgb_to_lab(np.array(rgbs, dtype=np.float32))
        self._chroma = np.hypot(self._lab[:, 1], self._lab[:, 2])
        self._achromatic = self._chroma < _ACHROMATIC_CHROMA
        if not self._achromatic.any():
            raise ValueError(
                f"taxonomy attribute {attribute!r} needs neutral (black/white/gray) swatches"
            )
        self.colour_ids = list(dict.fromkeys(names))

    def _prepare(self, image: Image.Image) -> np.ndarray:
        img = image.convert("RGB")
        if self.size and max(img.size) > self.size:
            scale = self.size / max(img.size)
            new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            img = img.resize(new, Image.Resampling.BOX)
        return srgb_to_lab(np.asarray(img))

    def _distances(self, lab: np.ndarray) -> np.ndarray:
        """CIE94 (textile weights) distance from each Lab pixel (N, 3) to each swatch."""
        dL = lab[:, None, 0] - self._lab[None, :, 0]
        c1 = self._chroma[None, :]
        c2 = np.hypot(lab[:, 1], lab[:, 2])[:, None]
        dC = c1 - c2
        da = lab[:, None, 1] - self._lab[None, :, 1]
        db = lab[:, None, 2] - self._lab[None, :, 2]
        dH2 = np.maximum(da**2 + db**2 - dC**2, 0.0)
        d2 = (dL / 2.0) ** 2 + (dC / (1 + 0.048 * c1)) ** 2 + dH2 / (1 + 0.014 * c1) ** 2
        neutral = c2[:, 0] < _ACHROMATIC_CHROMA
        d2[np.ix_(neutral, ~self._achromatic)] = np.inf
        return np.sqrt(d2)

    def name_pixels(self, lab: np.ndarray) -> np.ndarray:
        """Index into ``self._names`` of the nearest swatch for each Lab pixel (N, 3)."""
        return self._distances(lab).argmin(axis=1)

    def memberships(self, lab: np.ndarray) -> np.ndarray:
        """Soft colour-name membership per pixel, shape (N, len(colour_ids)), rows sum to 1.

        A pixel between two names (indigo between navy and purple) is shared between
        them, so ambiguous garments get split shares and a lower confidence.
        """
        d = self._distances(lab)
        per_colour = np.stack(
            [d[:, self._names == cid].min(axis=1) for cid in self.colour_ids], axis=1
        )
        if self.softness <= 0:
            hard = np.zeros_like(per_colour)
            hard[np.arange(len(d)), per_colour.argmin(1)] = 1.0
            return hard
        logits = -(per_colour - per_colour.min(axis=1, keepdims=True)) / self.softness
        m = np.exp(logits)
        return m / m.sum(axis=1, keepdims=True)

    def analyse(self, image: Image.Image, region: str | None = None) -> ColourResult:
        """Colour shares of the product in ``image`` (region: upper, lower, full or None)."""
        lab = self._prepare(image)
        h, w, _ = lab.shape
        fg, fallback = foreground_mask(lab)
        skin = skin_mask(lab) & fg
        if fg.sum() and skin.sum() < 0.6 * fg.sum():
            fg = fg & ~skin
        weights = spatial_prior(h, w, region)[fg]
        if not len(weights):
            return ColourResult({}, 0.0, fallback)
        colour_mass = weights @ self.memberships(lab[fg])
        totals = {
            cid: float(m) for cid, m in zip(self.colour_ids, colour_mass, strict=True) if m > 1e-9
        }
        norm = sum(totals.values())
        shares = {k: v / norm for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
        return ColourResult(shares, float(fg.mean()), fallback)
