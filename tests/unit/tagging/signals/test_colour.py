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
