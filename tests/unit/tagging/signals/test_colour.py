"""Pixel colour signal on synthetic product photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from enrichment.tagging.signals.colour import ColourNamer, foreground_mask, srgb_to_lab
from enrichment.tagging.taxonomy import Taxonomy

pytestmark = pytest.mark.unit

SKIN = (224, 172, 140)
DARK_SKIN = (141, 85, 54)


@pytest.fixture(scope="module")
def namer() -> ColourNamer:
    return ColourNamer(Taxonomy.load())


def shirt(colour, background=(255, 255, 255), size=(400, 500), skin=None, legs=None) -> Image.Image:
    """A T-shirt silhouette; optional skin-coloured head/arms and legs down to the edge."""
    w, h = size
    img = Image.new("RGB", size, background)
    d = ImageDraw.Draw(img)
    if skin:
        d.ellipse([w * 0.4, h * 0.02, w * 0.6, h * 0.2], fill=skin)  # head
        d.rectangle([w * 0.08, h * 0.3, w * 0.2, h * 0.62], fill=skin)  # arms
        d.rectangle([w * 0.8, h * 0.3, w * 0.92, h * 0.62], fill=skin)
    if legs:
        d.rectangle([w * 0.3, h * 0.6, w * 0.7, h], fill=legs)  # trousers cut by the edge
    body = [
        (w * 0.3, h * 0.18), (w * 0.7, h * 0.18), (w * 0.9, h * 0.3), (w * 0.82, h * 0.4),
        (w * 0.72, h * 0.35), (w * 0.72, h * 0.68), (w * 0.28, h * 0.68), (w * 0.28, h * 0.35),
        (w * 0.18, h * 0.4), (w * 0.1, h * 0.3),
    ]  # fmt: skip
    d.polygon(body, fill=colour)
    return img


def test_lab_conversion_reference_values():
    lab = srgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], dtype=np.float32))
    assert lab[0] == pytest.approx([100, 0, 0], abs=0.1)
    assert lab[1] == pytest.approx([0, 0, 0], abs=0.1)
    assert lab[2] == pytest.approx([53.24, 80.09, 67.20], abs=0.2)


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [
        ((200, 20, 30), "red"),
        ((20, 30, 80), "navy"),
        ((40, 100, 210), "blue"),
        ((30, 140, 60), "green"),
        ((240, 200, 20), "yellow"),
        ((120, 40, 150), "purple"),
        ((110, 70, 35), "brown"),
        ((225, 205, 170), "beige"),
        ((128, 128, 128), "gray"),
        ((20, 20, 20), "black"),
    ],
)
def test_studio_shot_primary_colour(namer, rgb, expected):
    result = namer.analyse(shirt(rgb))
    assert result.primary == expected
    assert result.shares[expected] > 0.8


def test_white_shirt_on_grey_studio_background(namer):
    assert namer.analyse(shirt((250, 250, 250), background=(200, 200, 200))).primary == "white"


def test_white_shirt_on_white_falls_back_to_centre(namer):
    result = namer.analyse(shirt((252, 252, 252)))
    assert result.used_fallback and result.primary == "white"


def test_skin_is_not_a_garment_colour(namer):
    for skin in (SKIN, DARK_SKIN):
        result = namer.analyse(shirt((200, 20, 30), skin=skin))
        assert result.primary == "red"
        skin_like = sum(result.shares.get(c, 0.0) for c in ("brown", "beige", "orange", "pink"))
        assert skin_like < 0.1, result.shares


def test_clothing_touching_one_edge_is_not_background(namer):
    # black trousers reach the bottom edge: they must not turn black into "background"
    img = shirt((15, 15, 15), legs=(15, 15, 15))
    lab = srgb_to_lab(np.asarray(img.resize((128, 160))))
    fg, fallback = foreground_mask(lab)
    assert not fallback and fg.mean() > 0.3
    assert namer.analyse(img, region="upper").primary == "black"


def test_region_prior_picks_the_product_garment(namer):
    # an outfit: red top and green trousers of about the same area
    img = Image.new("RGB", (400, 600), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle([120, 90, 280, 300], fill=(200, 20, 30))
    d.rectangle([130, 300, 270, 540], fill=(30, 140, 60))
    assert namer.analyse(img, region="upper").primary == "red"
    assert namer.analyse(img, region="lower").primary == "green"


def test_cluttered_background(namer):
    rng = np.random.default_rng(7)
    w, h = 400, 500
    # a room: wall, floor and random coloured clutter, all around the product
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[: h // 2] = (214, 200, 180)
    arr[h // 2 :] = (120, 90, 60)
    for _ in range(40):
        x, y = rng.integers(0, w - 40), rng.integers(0, h - 40)
        if 0.15 * w < x < 0.75 * w and 0.1 * h < y < 0.7 * h:
            continue  # keep the garment area itself clear
        arr[y : y + 40, x : x + 40] = rng.integers(0, 255, 3)
    img = Image.fromarray(arr)
    ImageDraw.Draw(img).rectangle([w * 0.3, h * 0.2, w * 0.7, h * 0.65], fill=(40, 100, 210))
    result = namer.analyse(img)
    assert result.primary == "blue"
    assert result.shares["blue"] > 0.5


def test_two_colour_garment_has_secondary(namer):
    img = Image.new("RGB", (300, 400), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for i, y in enumerate(range(80, 320, 20)):
        d.rectangle([60, y, 240, y + 19], fill=(15, 15, 15) if i % 2 else (30, 60, 160))
    result = namer.analyse(img)
    assert {result.primary, result.secondary} == {"black", "blue"}
    assert result.distribution()[result.primary] < 0.8  # an even split is not confident


def test_downscaled_and_full_size_agree(namer):
    img = shirt((200, 20, 30), size=(1200, 1500), skin=SKIN)
    full = ColourNamer(Taxonomy.load(), size=None).analyse(img)
    small = namer.analyse(img)
    assert small.primary == full.primary == "red"
    assert abs(small.shares["red"] - full.shares["red"]) < 0.05


def test_lab_of_8bit_pixels_equals_the_float_conversion():
    rgb = np.random.default_rng(3).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    assert np.array_equal(srgb_to_lab(rgb), srgb_to_lab(rgb.astype(np.float32)))


def test_nearest_centre_matches_argmin_including_ties():
    from enrichment.tagging.signals.colour import _nearest, _squared_distances

    rng = np.random.default_rng(5)
    points = rng.integers(0, 4, (500, 3)).astype(np.float32)  # many exact ties
    centres = np.array([[1, 1, 1], [2, 2, 2], [1, 1, 1], [0, 3, 0]], dtype=np.float32)
    planes = np.ascontiguousarray(points.T)
    expected = ((points[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    assert np.array_equal(_nearest(planes, centres), expected)
    assert np.array_equal(_squared_distances(planes, centres).argmin(0), expected)


FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def _serpentine(n: int) -> np.ndarray:
    """A one-pixel corridor from the top edge winding row by row through the interior (a
    turn every row), walled off from the other edges."""
    grid = np.zeros((n, n), dtype=bool)
    lo, hi = 4, n - 5
    grid[0 : lo + 1, lo] = True  # the way in from the top edge
    for k, row in enumerate(range(lo, hi, 2)):
        grid[row, lo : hi + 1] = True
        if row + 2 < hi:
            grid[row + 1, hi if k % 2 == 0 else lo] = True
    return grid


def test_flood_keeps_only_regions_connected_to_the_border():
    from scipy.ndimage import binary_propagation

    from enrichment.tagging.signals.colour import _border_mask, _flood_from_border

    rng = np.random.default_rng(11)
    for h, w in ((60, 50), (72, 128), (128, 97), (5, 5)):
        border = _border_mask(h, w)
        for density in (0.0, 0.3, 0.45, 0.55, 0.6, 0.8, 1.0):
            candidate = rng.random((h, w)) < density
            expected = binary_propagation(
                candidate & border, structure=FOUR_CONNECTED, mask=candidate
            )
            assert np.array_equal(_flood_from_border(candidate, border), expected), (h, w)
    for n in (21, 64):  # long winding paths: many rounds of row and column runs
        maze = _serpentine(n)
        border = _border_mask(n, n)
        expected = binary_propagation(maze & border, structure=FOUR_CONNECTED, mask=maze)
        assert expected.sum() == maze.sum()  # the whole corridor hangs on the way in
        assert np.array_equal(_flood_from_border(maze, border), expected)
    diagonal = np.eye(30, dtype=bool)  # 8-connected only: just the border part is reached
    border = _border_mask(30, 30)
    assert np.array_equal(_flood_from_border(diagonal, border), diagonal & border)
    ring = np.zeros((60, 50), dtype=bool)
    ring[20:40, 20:30] = True  # an enclosed region of background colour stays foreground
    assert not _flood_from_border(ring, _border_mask(60, 50)).any()


def _lab_reference(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of 0-255 sRGB in float64 with an exact cube root: the textbook form."""
    c = rgb.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    t = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 216 / 24389, np.cbrt(t), (24389 / 27 * t + 16) / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def test_lab_matches_the_exact_cube_root_on_every_fourth_8bit_level():
    levels = np.arange(0, 256, 4, dtype=np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    extremes = np.array([[0, 0, 0], [255, 255, 255], [1, 0, 0], [0, 0, 1], [255, 0, 0]])
    rgb = np.concatenate([grid, extremes.astype(np.uint8)])
    lab = srgb_to_lab(rgb)
    assert lab.dtype == np.float32
    assert np.abs(lab - _lab_reference(rgb)).max() < 5e-4


def test_median_per_channel_equals_numpy_median():
    from enrichment.tagging.signals.colour import _median_per_channel

    rng = np.random.default_rng(8)
    for n in (1, 2, 7, 1200, 1201):
        points = rng.normal(50, 20, (n, 3)).astype(np.float32)
        points[: n // 3] = points[0]  # ties
        planes = np.ascontiguousarray(points.T)
        assert np.array_equal(_median_per_channel(planes), np.median(points, axis=0)), n


def test_skin_mask_equals_the_hue_angle_definition():
    from enrichment.tagging.signals.colour import skin_mask

    rng = np.random.default_rng(9)
    lab = np.stack(
        [
            rng.uniform(0, 100, 200_000),
            rng.uniform(-60, 60, 200_000),
            rng.uniform(-60, 60, 200_000),
        ],
        1,
    ).astype(np.float32)
    L, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    chroma, hue = np.hypot(a, b), np.degrees(np.arctan2(b, a))
    expected = (
        (L > 20) & (L < 92) & (chroma > 9) & (chroma < 42) & (hue > 25) & (hue < 68) & (a > 5)
    )
    assert expected.sum() > 1000
    assert np.array_equal(skin_mask(lab), expected)


def test_colour_statistics_bins_every_pixel_once():
    from enrichment.tagging.signals.colour import STAT_SIZE, colour_statistics

    rng = np.random.default_rng(10)
    lab = np.stack(
        [rng.uniform(0, 100, 5000), rng.uniform(-80, 80, 5000), rng.uniform(-80, 80, 5000)], 1
    ).astype(np.float32)
    lab[:10, 1], lab[:10, 2] = 40.0, -1e-7  # hues that round up to 360 degrees
    lab[10:20, 1:] = 0.0  # neutral
    weights = rng.uniform(0.2, 1.0, 5000).astype(np.float32)
    stats = colour_statistics(lab, weights)
    assert stats.shape == (STAT_SIZE,)
    assert stats[:-6].sum() == pytest.approx(1.0, abs=1e-5)  # the histogram holds every pixel
    hue_bins = stats[7:-6].reshape(12, 3, 2)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    w = weights / weights.sum()
    hue = np.degrees(np.arctan2(lab[:, 2].astype(np.float64), lab[:, 1])) % 360
    near_zero = ((hue < 30) | (hue >= 330)) & (chroma >= 10)  # the sectors either side of 0
    assert near_zero[:10].all()
    assert hue_bins[[0, 11]].sum() == pytest.approx(float(w[near_zero].sum()), abs=1e-5)
    assert stats[-1] == pytest.approx(float(w[chroma < 10].sum()), abs=1e-6)


def test_shape_caches_keep_small_shapes_and_recompute_full_size_ones():
    from enrichment.tagging.signals.colour import _border_mask, spatial_prior

    small, large = spatial_prior(128, 96, "upper"), spatial_prior(1580, 1274, "upper")
    assert spatial_prior(128, 96, "upper") is small  # cached
    again = spatial_prior(1580, 1274, "upper")
    assert again is not large and np.array_equal(again, large)  # not held in memory
    for arr in (small, large, _border_mask(128, 96), _border_mask(1580, 1274)):
        assert not arr.flags.writeable
