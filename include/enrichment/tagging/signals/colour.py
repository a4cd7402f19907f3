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
5. Naming: a lookup table over the quantised sRGB cube (32 levels per channel) gives
   each pixel its soft membership to every colour name, precomputed from the
   taxonomy swatches with a CIE94-style distance (textile weights: lightness counts
   half) measured in Oklab, whose hues stay constant where CIELAB bends saturated
   blues towards purple. Near-neutral pixels (CIELAB chroma < 5) may only be black,
   white or grey; lightness then decides.

The result is the weighted share of each colour among foreground pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, wraps

import numpy as np
from PIL import Image

from enrichment.tagging.taxonomy import Taxonomy

DEFAULT_SIZE = 128
DEFAULT_SOFTNESS = (
    1.25  # distance units (Oklab x100): how gradually a pixel's membership moves between names
)
_ACHROMATIC_CHROMA = 5.0
_MIN_MODE_SHARE = 0.08
_MIN_FOREGROUND = 0.03
_SECONDARY_MIN_SHARE = 0.12
_REGION_PRIOR = {"upper": (0.38, 0.25), "lower": (0.60, 0.30), "full": (0.5, 0.6), None: (0.5, 0.6)}


def _linearise(c: np.ndarray) -> np.ndarray:
    """sRGB values scaled to 0-1 -> linear light (the sRGB transfer curve inverted)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


# the curve at each of the 256 8-bit levels: photos index it instead of raising every
# channel of every pixel to the power 2.4 (same float32 arithmetic, same values)
_LINEAR_U8 = _linearise(np.arange(256, dtype=np.float32) / 255.0).astype(np.float32)


_XYZ_FROM_LINEAR = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float32,
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
# linear sRGB -> XYZ relative to the white point, in one product
_XYZN_FROM_LINEAR = (_XYZ_FROM_LINEAR / _D65_WHITE[:, None]).astype(np.float32)
_LAB_EPSILON = np.float32(216 / 24389)
_LAB_KAPPA = np.float32(24389 / 27)


def _lab_f(t: np.ndarray) -> np.ndarray:
    """CIELAB's companding function of XYZ/white, float32.

    The cube root is taken as exp(log(t) / 3): numpy's float32 ``cbrt`` is not vectorised
    and costs four times as much; over all 16.7M 8-bit colours the Lab values differ from
    the ``cbrt`` ones by at most 0.00016.
    """
    f = np.log(np.maximum(t, np.float32(1e-30)))
    f *= np.float32(1 / 3)
    np.exp(f, out=f)
    low = t <= _LAB_EPSILON
    if low.any():
        f[low] = (_LAB_KAPPA * t[low] + 16) / 116
    return f


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB values 0-255 (shape ``(..., 3)``) to CIELAB (D65), float32."""
    if isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8:
        lin = _LINEAR_U8[rgb]
    else:
        lin = _linearise(np.asarray(rgb, dtype=np.float32) / 255.0).astype(np.float32, copy=False)
    shape = lin.shape
    # one (N, 3) x (3, 3) product (a batched matmul per image row is several times slower)
    f = _lab_f(lin.reshape(-1, 3) @ _XYZN_FROM_LINEAR.T)
    lab = np.empty_like(f)
    np.subtract(116 * f[:, 1], 16, out=lab[:, 0])
    np.multiply(500, f[:, 0] - f[:, 1], out=lab[:, 1])
    np.multiply(200, f[:, 1] - f[:, 2], out=lab[:, 2])
    return lab.reshape(shape)


_OKLAB_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ],
    dtype=np.float32,
)
_OKLAB_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ],
    dtype=np.float32,
)


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """Convert sRGB 0-255 (``(..., 3)``) to Oklab, scaled by 100 (L 0-100), float32.

    Oklab keeps hue constant where CIELAB bends it (CIELAB shifts saturated blues
    towards purple), so colour names are matched in Oklab.
    """
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lms = np.cbrt(lin @ _OKLAB_M1.T)
    return (lms @ _OKLAB_M2.T * 100).astype(np.float32)


def hex_to_rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@dataclass
class ColourResult:
    """Weighted share of each colour among foreground pixels (shares sum to 1)."""

    shares: dict[str, float]
    foreground_fraction: float
    used_fallback: bool = False
    stats: np.ndarray | None = None  # :func:`colour_statistics` of the foreground

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


STAT_NEUTRAL_CHROMA = 10.0
_STAT_L_NEUTRAL = np.array([15, 30, 45, 60, 75, 90], dtype=np.float32)
_STAT_L_CHROMATIC = np.array([35, 65], dtype=np.float32)
_STAT_HUES = 12
STAT_SIZE = 7 + _STAT_HUES * 3 * 2 + 6


def colour_statistics(lab: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fixed-length colour description of weighted Lab pixels (N, 3), for learnt heads.

    A weighted histogram over a quantised Lab space (near-neutral pixels by lightness
    in 7 bins; the rest by 12 hue sectors x 3 lightness x 2 chroma bins), then the
    weighted mean L, a, b and chroma, the lightness spread and the neutral share.
    """
    out = np.zeros(STAT_SIZE, dtype=np.float32)
    total = float(weights.sum())
    if not len(lab) or total <= 0:
        return out
    w = weights / total
    L, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    chroma = np.hypot(a, b)
    neutral = chroma < STAT_NEUTRAL_CHROMA
    lbin = np.digitize(L, _STAT_L_NEUTRAL)
    out[:7] = np.bincount(lbin[neutral], weights=w[neutral], minlength=7)
    chromatic = ~neutral  # hue sectors: arctan2 only where the hue means something
    sector = np.degrees(np.arctan2(b[chromatic], a[chromatic])) % 360.0 // (360.0 / _STAT_HUES)
    sector = sector.astype(np.int64) % _STAT_HUES  # a hue that rounds up to 360 is 0
    chroma_bin = chroma[chromatic] >= 30
    bins = (sector * 3 + np.digitize(L[chromatic], _STAT_L_CHROMATIC)) * 2 + chroma_bin
    out[7:-6] = np.bincount(bins, weights=w[chromatic], minlength=_STAT_HUES * 6)
    mean_l = float(w @ L)
    out[-6:] = [
        mean_l / 100,
        float(w @ a) / 100,
        float(w @ b) / 100,
        float(w @ chroma) / 100,
        float(np.sqrt(w @ (L - mean_l) ** 2)) / 100,
        float(w[neutral].sum()),
    ]
    return out


def _squared_distances(planes: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared distance of each point to each centre, shape ``(k, N)``.

    ``planes`` holds the points channel by channel (3, N): three contiguous passes
    instead of a reduction over a length-3 axis (same float32 sums, in the same order).
    """
    d = (planes[0][None] - centres[:, 0, None]) ** 2
    d += (planes[1][None] - centres[:, 1, None]) ** 2
    d += (planes[2][None] - centres[:, 2, None]) ** 2
    return d


def _nearest(planes: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for each point (the first on a tie, as ``argmin``)."""
    d = _squared_distances(planes, centres)
    best, labels = d[0].copy(), np.zeros(d.shape[1], dtype=np.int64)
    for j in range(1, len(d)):  # k contiguous passes: argmin over axis 0 strides
        closer = d[j] < best
        labels[closer] = j
        np.minimum(best, d[j], out=best)
    return labels


def _median_per_channel(planes: np.ndarray) -> np.ndarray:
    """``np.median(points, axis=0)`` of points given channel by channel (3, N), the same
    values: one partition of each contiguous channel instead of numpy's general path."""
    n = planes.shape[1]
    middle = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
    part = np.partition(planes, middle, axis=1)
    if n % 2:
        return part[:, n // 2].copy()
    return (part[:, n // 2 - 1] + part[:, n // 2]) / np.float32(2)


def _kmeans(points: np.ndarray, k: int, iters: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Tiny deterministic k-means (farthest-point init); returns centres and labels."""
    planes = np.ascontiguousarray(points.T)
    centres = [_median_per_channel(planes)]
    for _ in range(1, k):
        d = _squared_distances(planes, np.asarray(centres, dtype=np.float32)).min(axis=0)
        if d.max() < 4.0:
            break
        centres.append(points[int(d.argmax())])
    c = np.asarray(centres, dtype=np.float32)
    labels = np.zeros(len(points), dtype=np.int64)
    previous = None
    for _ in range(iters):
        labels = _nearest(planes, c)
        if previous is not None and np.array_equal(labels, previous):
            break  # converged: further rounds would recompute the same centres
        previous = labels
        counts = np.bincount(labels, minlength=len(c))
        used = counts > 0  # an empty cluster keeps its centre
        for axis in range(3):  # cluster means: one weighted count per channel
            sums = np.bincount(labels, weights=planes[axis], minlength=len(c))
            c[used, axis] = sums[used] / counts[used]
    return c, labels


_CACHED_PIXELS = 192 * 192  # shapes up to this size are cached (the default size is 128)


def _per_shape(function):
    """Cache ``function(h, w, ...)`` for the last 256 small shapes (at most about 40 MB
    together); a larger shape (a photo analysed at full size) is computed each time."""
    cached = lru_cache(maxsize=256)(function)

    @wraps(function)
    def lookup(h: int, w: int, *rest):
        return cached(h, w, *rest) if h * w <= _CACHED_PIXELS else function(h, w, *rest)

    return lookup


@_per_shape
def _border_mask(h: int, w: int) -> np.ndarray:
    """Border pixels of an h x w image (cached per shape, read-only)."""
    b = max(2, round(0.04 * min(h, w)))
    mask = np.zeros((h, w), dtype=bool)
    mask[:b], mask[-b:], mask[:, :b], mask[:, -b:] = True, True, True, True
    mask.flags.writeable = False
    return mask


@_per_shape
def _border_sides(h: int, w: int) -> np.ndarray:
    """Which side (0 top, 1 bottom, 2 left, 3 right) each pixel of
    :func:`_border_mask` belongs to, in the order ``image[mask]`` lists them (cached per
    shape, read-only)."""
    yy, xx = np.mgrid[0:h, 0:w]
    dist = np.stack([yy, h - 1 - yy, xx, w - 1 - xx])
    side = dist.argmin(0)[_border_mask(h, w)]
    side.flags.writeable = False
    return side


def _spread_along_rows(reached: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Every horizontal run of ``candidate`` pixels that holds a ``reached`` pixel, whole."""
    h, w = candidate.shape
    flat = candidate.ravel()
    starts = flat.copy()
    starts[1:] &= ~flat[:-1]
    starts[::w] = flat[::w]  # a run never continues into the next row
    run = np.cumsum(starts)
    hit = np.zeros(int(run[-1]) + 1, dtype=bool)
    hit[run[reached.ravel() & flat]] = True
    hit[0] = False  # run 0: pixels before the first run (none of them a candidate)
    return (flat & hit[run]).reshape(h, w)


def _flood_from_border(candidate: np.ndarray, border: np.ndarray) -> np.ndarray:
    """Pixels of ``candidate`` 4-connected to the border through ``candidate``.

    Whole row runs, then whole column runs, of candidate pixels are added until nothing
    changes: two 4-neighbours share a row or a column run, so this is the border's
    4-connected component. numpy only: scipy.ndimage's labelling costs the same per photo
    but half a second to import in every tagging worker process.
    """
    reached = candidate & border
    count = int(reached.sum())
    if not count:
        return reached
    columns = np.ascontiguousarray(candidate.T)
    after_columns = False  # ``reached`` is the result of a column pass
    while True:  # stable once a pass along one axis adds nothing after one along the other
        reached = _spread_along_rows(reached, candidate)
        grown = int(reached.sum())
        if grown == count and after_columns:
            return reached
        count = grown
        reached = _spread_along_rows(reached.T, columns).T  # ravel() lays the runs out
        grown = int(reached.sum())
        if grown == count:
            return reached
        count, after_columns = grown, True


def foreground_mask(lab: np.ndarray) -> tuple[np.ndarray, bool]:
    """Foreground (product) mask of a Lab image; second item: central fallback used."""
    h, w, _ = lab.shape
    border = _border_mask(h, w)
    pts = lab[border]
    side = _border_sides(h, w)
    centres, labels = _kmeans(pts, k=4)
    planes = np.moveaxis(lab, -1, 0).reshape(3, -1)
    per_side = np.bincount(side, minlength=4)
    background_like = np.zeros(h * w, dtype=bool)
    for j, centre in enumerate(centres):
        in_mode = labels == j
        members = pts[in_mode]
        if len(members) < _MIN_MODE_SHARE * len(pts):
            continue
        # a real background surrounds the product: it shows on at least two sides
        # (legs or a garment cut off at the bottom edge show on one side only)
        on_side = np.bincount(side[in_mode], minlength=4) / np.maximum(per_side, 1)
        if int((on_side >= 0.10).sum()) < 2:
            continue
        spread = float(np.sqrt(((members - centre) ** 2).sum(-1)).mean())
        threshold = float(np.clip(8.0 + 2.0 * spread, 8.0, 24.0))
        background_like |= _squared_distances(planes, centre[None])[0] < threshold**2
    background_like = background_like.reshape(h, w)
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


_SKIN_TAN_LOW, _SKIN_TAN_HIGH = np.tan(np.radians([25.0, 68.0])).astype(np.float32)


def skin_mask(lab: np.ndarray) -> np.ndarray:
    """Pixels whose Lab colour lies in the range of human skin tones: lightness 20-92,
    chroma 9-42, hue 25-68 degrees with a > 5 (the hue range is tested as b/a between
    the tangents of its ends: a is positive there, and arctan2 costs 20 ns a pixel)."""
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    chroma2 = a * a + b * b
    return (
        (L > 20)
        & (L < 92)
        & (chroma2 > 9.0**2)
        & (chroma2 < 42.0**2)
        & (a > 5)
        & (b > a * _SKIN_TAN_LOW)
        & (b < a * _SKIN_TAN_HIGH)
    )


@_per_shape
def spatial_prior(h: int, w: int, region: str | None) -> np.ndarray:
    """Soft weight map: centred horizontally, vertically where the garment sits (cached
    per shape and region, read-only)."""
    mu, sigma = _REGION_PRIOR.get(region, _REGION_PRIOR[None])
    y = (np.arange(h, dtype=np.float32) + 0.5) / h
    x = (np.arange(w, dtype=np.float32) + 0.5) / w
    gy = np.exp(-0.5 * ((y - mu) / sigma) ** 2)
    gx = np.exp(-0.5 * ((x - 0.5) / 0.3) ** 2)
    prior = 0.2 + 0.8 * np.outer(gy, gx)
    prior.flags.writeable = False
    return prior


_OK_SC, _OK_SH = 0.19, 0.056  # CIE94's 0.048 and 0.014 per unit of CIELAB chroma, x4
_OK_CHROMA_WEIGHT = 3.0
_LUT_BITS = 5  # quantised sRGB cube of the naming lookup table: 32 levels per channel
_LUT_LEVELS = 1 << _LUT_BITS


def lut_index(rgb: np.ndarray) -> np.ndarray:
    """Cell of the quantised sRGB cube for each 0-255 RGB pixel (..., 3)."""
    q = np.asarray(rgb, dtype=np.int64) >> (8 - _LUT_BITS)
    return (q[..., 0] << (2 * _LUT_BITS)) | (q[..., 1] << _LUT_BITS) | q[..., 2]


def _lut_centres() -> np.ndarray:
    step = 256 // _LUT_LEVELS
    levels = np.arange(_LUT_LEVELS, dtype=np.float32) * step + (step - 1) / 2
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    return np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1)


class ColourNamer:
    """Names product colours with the taxonomy's colour swatches; reuse per taxonomy.

    Naming is a table lookup: every cell of a quantised sRGB cube (32 levels per
    channel) holds its soft membership to each colour name, computed once from the
    swatches, so a photo's pixels are named without per-pixel distance computations.
    """

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
        swatch_rgb = np.array(rgbs, dtype=np.float32)
        self._ok = srgb_to_oklab(swatch_rgb)
        lab = srgb_to_lab(swatch_rgb)
        self._achromatic = np.hypot(lab[:, 1], lab[:, 2]) < _ACHROMATIC_CHROMA
        if not self._achromatic.any():
            raise ValueError(
                f"taxonomy attribute {attribute!r} needs neutral (black/white/gray) swatches"
            )
        self.colour_ids = list(dict.fromkeys(names))
        self._lut = self._memberships_rgb(_lut_centres())

    def _prepare(self, image: Image.Image) -> np.ndarray:
        img = image if image.mode == "RGB" else image.convert("RGB")  # no copy when RGB
        if self.size and max(img.size) > self.size:
            scale = self.size / max(img.size)
            new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            img = img.resize(new, Image.Resampling.BOX)
        return np.asarray(img)

    def _distances(self, rgb: np.ndarray) -> np.ndarray:
        """Distance from each sRGB colour (N, 3) to each swatch, in Oklab (x100).

        CIE94's textile form carried over to Oklab: lightness differences count half
        (folds and shading change lightness more than hue), chroma and hue differences
        are discounted for saturated swatches (weights scaled to Oklab's chroma range,
        about a quarter of CIELAB's) and weighted up by :data:`_OK_CHROMA_WEIGHT` against
        lightness. A near-neutral colour (CIELAB chroma < 5) may only be black, white or
        grey.
        """
        ok = srgb_to_oklab(rgb)
        c1 = np.hypot(self._ok[:, 1], self._ok[:, 2])[None, :]
        c2 = np.hypot(ok[:, 1], ok[:, 2])[:, None]
        dL = (ok[:, None, 0] - self._ok[None, :, 0]) / 2.0
        da = ok[:, None, 1] - self._ok[None, :, 1]
        db = ok[:, None, 2] - self._ok[None, :, 2]
        dC = c1 - c2
        dH2 = np.maximum(da**2 + db**2 - dC**2, 0.0)
        d2 = dL**2 + _OK_CHROMA_WEIGHT * (
            (dC / (1 + _OK_SC * c1)) ** 2 + dH2 / (1 + _OK_SH * c1) ** 2
        )
        lab = srgb_to_lab(rgb)
        neutral = np.hypot(lab[:, 1], lab[:, 2]) < _ACHROMATIC_CHROMA
        d2[np.ix_(neutral, ~self._achromatic)] = np.inf
        return np.sqrt(d2)

    def _memberships_rgb(self, rgb: np.ndarray) -> np.ndarray:
        d = self._distances(rgb)
        per_colour = np.stack(
            [d[:, self._names == cid].min(axis=1) for cid in self.colour_ids], axis=1
        )
        if self.softness <= 0:
            hard = np.zeros_like(per_colour)
            hard[np.arange(len(d)), per_colour.argmin(1)] = 1.0
            return hard.astype(np.float32)
        logits = -(per_colour - per_colour.min(axis=1, keepdims=True)) / self.softness
        m = np.exp(logits)
        return (m / m.sum(axis=1, keepdims=True)).astype(np.float32)

    def memberships(self, rgb: np.ndarray) -> np.ndarray:
        """Soft colour-name membership of sRGB pixels (N, 3), shape (N, len(colour_ids)).

        Rows sum to 1; a pixel between two names (indigo between navy and purple) is
        shared between them, so ambiguous garments get split shares.
        """
        return self._lut[lut_index(rgb)]

    def name_pixels(self, rgb: np.ndarray) -> list[str]:
        """The colour name of each sRGB pixel (N, 3)."""
        return [self.colour_ids[i] for i in self.memberships(rgb).argmax(axis=1)]

    def analyse(self, image: Image.Image, region: str | None = None) -> ColourResult:
        """Colour shares of the product in ``image`` (region: upper, lower, full or None)."""
        rgb = self._prepare(image)
        lab = srgb_to_lab(rgb)
        h, w, _ = lab.shape
        fg, fallback = foreground_mask(lab)
        skin = np.zeros_like(fg)
        skin[fg] = skin_mask(lab[fg])  # judged on the foreground only: nothing else is used
        if fg.sum() and skin.sum() < 0.6 * fg.sum():
            fg = fg & ~skin
        weights = spatial_prior(h, w, region)[fg]
        if not len(weights):
            return ColourResult({}, 0.0, fallback, np.zeros(STAT_SIZE, dtype=np.float32))
        colour_mass = weights @ self.memberships(rgb[fg])
        totals = {
            cid: float(m) for cid, m in zip(self.colour_ids, colour_mass, strict=True) if m > 1e-9
        }
        norm = sum(totals.values())
        shares = {k: v / norm for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
        stats = colour_statistics(lab[fg], weights)
        return ColourResult(shares, float(fg.mean()), fallback, stats)
