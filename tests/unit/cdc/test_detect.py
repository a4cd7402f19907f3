"""Content hashes of product snapshots: stable text, cheap to compute."""

import hashlib
import json
import random
from datetime import datetime
from decimal import Decimal

from enrichment.cdc.detect import ProductSnapshot, _canonical, _digest


def _reference(value) -> str:
    """The digest as every stored hash was computed: sha256 of this JSON text."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _random_value(rng: random.Random, depth: int = 0):
    chars = ["a", "é", "\u2028", "\x00", "\x1f", '"', "\\", "\n", "\t", "😀", "\u00a0"]
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return "".join(rng.choice(chars) for _ in range(rng.randrange(6)))
    if kind == 1:
        return rng.choice([None, True, False])
    if kind == 2:
        return rng.randrange(-(10**20), 10**20)
    if kind == 3:
        return rng.choice([0.1, -0.0, 1e16, 1e-7, float("nan"), float("inf"), rng.random()])
    if kind == 4:
        return Decimal("12.50")
    if kind == 5:
        return datetime(2026, 1, 2, 3, 4, 5)
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 7:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(4)))
    return {"b": _random_value(rng, depth + 1), "a": _random_value(rng, depth + 1)}


def test_canonical_text_is_the_json_encoders_for_any_value():
    rng = random.Random(7)
    for _ in range(5000):
        value = _random_value(rng)
        assert _canonical(value) == json.dumps(
            value, ensure_ascii=False, sort_keys=True, default=str
        ), repr(value)
        assert _digest(value) == _reference(value)


def test_snapshot_hashes_keep_their_stored_values():
    snap = ProductSnapshot(
        sku="SKU-1",
        product_id=1,
        active=True,
        title="  Linen  shirt\n",
        description="Blue, é",
        brand="Acme",
        category="Shirts",
        price=12.5,
        currency="EUR",
        stock=3,
        images=["a.jpg", "b.jpg"],
        image_versions=["2026-01-01", "2026-01-02"],
    )
    assert snap.text_hash == _reference(["Linen shirt", "Blue, é", "Acme", "Shirts"])
    assert snap.image_hash == _reference([["a.jpg", "2026-01-01"], ["b.jpg", "2026-01-02"]])
    assert snap.meta_hash == _reference([12.5, "EUR", 3, True])
    assert snap.content_hash == _reference([snap.text_hash, snap.image_hash])
    assert snap.text_hash is snap.text_hash  # computed once


def test_image_hash_of_any_photo_list_is_the_reference():
    rng = random.Random(3)
    for n in range(6):
        urls = [_random_value(rng, 3) if n % 2 else f"img/{i}é\t.jpg" for i in range(n)]
        versions = [str(rng.random()) for _ in range(n)]
        snap = ProductSnapshot("S", 1, True, images=urls, image_versions=versions)
        assert snap.image_hash == _reference([list(p) for p in zip(urls, versions, strict=True)])
