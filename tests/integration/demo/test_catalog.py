"""The demo catalogue against the real embedded PostgreSQL: seed, one day of changes, CLI."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

import pytest
from PIL import Image, UnidentifiedImageError

from enrichment.cli import demo as cli_demo
from enrichment.db import connection as db
from enrichment.demo import catalog as demo_catalog
from enrichment.demo import listings as demo_listings
from enrichment.demo.catalog import MUTATION_KINDS

pytestmark = pytest.mark.integration

PRODUCT_COLS = (
    "sku",
    "title",
    "description",
    "brand",
    "category",
    "price",
    "currency",
    "stock",
    "language",
    "is_deleted",
    "updated_at",
)


@pytest.fixture
def catalog_url():
    """A fresh, empty database on the embedded server, dropped afterwards."""
    admin = db.server_url()
    name = f"test_{uuid.uuid4().hex[:12]}"
    db.ensure_database(admin, name)
    yield db.with_database(admin, name)
    with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def _snapshot(url: str) -> dict:
    products = {
        r[0]: dict(zip(PRODUCT_COLS, r, strict=True))
        for r in _rows(url, f"SELECT {', '.join(PRODUCT_COLS)} FROM catalog.products")
    }
    images: dict[str, list[tuple]] = {}
    for sku, pos, url_, updated in _rows(
        url,
        "SELECT p.sku, i.position, i.url, i.updated_at FROM catalog.product_images i "
        "JOIN catalog.products p ON p.id = i.product_id ORDER BY 1, 2",
    ):
        images.setdefault(sku, []).append((pos, url_, updated))
    truth = {
        r[0]: r[1:]
        for r in _rows(
            url,
            "SELECT sku, category, color, pattern, gender, material, broken_image "
            "FROM catalog.ground_truth",
        )
    }
    return {"products": products, "images": images, "truth": truth}


def _seed(url: str, root: Path, **kw) -> dict:
    with db.connect(url) as conn:
        return demo_catalog.seed(conn, image_root=root, **kw)


def test_seed_fills_a_realistic_catalogue(catalog_url, tmp_path):
    result = _seed(catalog_url, tmp_path, products=300, seed=3, broken_rate=0.02)
    snap = _snapshot(catalog_url)
    products, images, truth = snap["products"], snap["images"], snap["truth"]
    assert result["products"] == len(products) == len(truth) == 300
    assert set(truth) == set(products)
    n_images = sum(len(v) for v in images.values())
    assert result["images"] == n_images and 300 < n_images <= 900
    assert all([pos for pos, _, _ in v] == list(range(len(v))) for v in images.values())
    vi = [p for p in products.values() if p["language"] == "vi"]
    assert 0.2 < len(vi) / 300 < 0.4
    assert {p["currency"] for p in vi} == {"VND"}
    assert all(p["price"] > 0 and p["stock"] >= 0 for p in products.values())
    assert any(p["category"] is None for p in products.values())
    assert len({p["category"] for p in products.values()}) > 20  # the shop's own labels
    assert {t[0] for t in truth.values()} == set(demo_catalog.demo_images.CATEGORIES)
    assert len({t[1] for t in truth.values()}) == len(demo_catalog.demo_images.COLORS)
    # gender and material are recorded only when the listing states them
    assert any(t[3] is None for t in truth.values()) and any(t[3] for t in truth.values())
    assert any(t[4] is None for t in truth.values()) and any(t[4] for t in truth.values())

    # colour words appear in the text only part of the time, so the image matters
    mentions = [
        demo_listings.mentions_color(f"{p['title']} {p['description']}", p["language"])
        for p in products.values()
    ]
    assert 0.3 < sum(mentions) / len(mentions) < 0.85

    broken = {sku: t[5] for sku, t in truth.items() if t[5]}
    assert broken == result["broken_images"]
    assert set(broken.values()) == set(demo_catalog.BROKEN_KINDS)
    for sku, kind in broken.items():
        path = tmp_path / images[sku][0][1]
        if kind == "missing":
            assert not path.exists()
        elif kind == "empty":
            assert path.stat().st_size == 0
        else:
            with pytest.raises((OSError, UnidentifiedImageError)):
                Image.open(path).load()
    for sku, rows in images.items():
        for pos, rel, _ in rows:
            assert not Path(rel).is_absolute() and rel.startswith("demo/")
            if pos == 0 and sku in broken:
                continue
            with Image.open(tmp_path / rel) as img:
                img.load()
                assert img.size == (320, 320)


def test_vietnamese_text_survives_the_round_trip(catalog_url, tmp_path):
    _seed(catalog_url, tmp_path, products=120, seed=5)
    rows = _rows(
        catalog_url,
        "SELECT title, length(title), description, category "
        "FROM catalog.products WHERE language = 'vi'",
    )
    assert rows
    diacritics = set("àáảãạăắằẳẵặâấầẩẫậđèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵ")
    assert all(set(t.lower()) & diacritics or set(d.lower()) & diacritics for t, _, d, _ in rows)
    assert all(n == len(t) for t, n, _, _ in rows)  # characters, not mis-decoded bytes
    found = _rows(
        catalog_url,
        "SELECT count(*) FROM catalog.products WHERE title LIKE %s "
        "OR title LIKE %s OR title LIKE %s",
        ("Áo%", "Quần%", "Đầm%"),
    )[0][0]
    assert found > 0


def test_seed_refuses_an_existing_catalogue_and_reset_reproduces_it(catalog_url, tmp_path):
    first = _seed(catalog_url, tmp_path, products=60, seed=9)
    before = _snapshot(catalog_url)
    files = {p.name: p.read_bytes() for p in (tmp_path / "demo").iterdir()}
    with pytest.raises(demo_catalog.CatalogExistsError, match="reset"):
        _seed(catalog_url, tmp_path, products=10, seed=9)
    assert len(_snapshot(catalog_url)["products"]) == 60

    (tmp_path / "demo" / "SKU-999999-0-stale.jpg").write_bytes(b"old")
    again = _seed(catalog_url, tmp_path, products=60, seed=9, reset=True)
    after = _snapshot(catalog_url)
    assert again["products"] == first["products"] == 60
    strip = ("updated_at",)
    assert {
        s: {k: v for k, v in p.items() if k not in strip} for s, p in before["products"].items()
    } == {s: {k: v for k, v in p.items() if k not in strip} for s, p in after["products"].items()}
    assert before["truth"] == after["truth"]
    assert {p.name: p.read_bytes() for p in (tmp_path / "demo").iterdir()} == files


def test_mutate_applies_one_day_of_changes_to_the_right_columns(catalog_url, tmp_path):
    _seed(catalog_url, tmp_path, products=400, seed=11)
    before = _snapshot(catalog_url)
    rates = {
        "price_stock": 0.1,
        "text": 0.04,
        "image": 0.04,
        "new": 0.02,
        "soft_delete": 0.02,
        "hard_delete": 0.02,
    }
    with db.connect(catalog_url) as conn:
        result = demo_catalog.mutate(conn, image_root=tmp_path, seed=4, rates=rates)
    after = _snapshot(catalog_url)
    skus, counts = result["skus"], result["counts"]
    assert set(skus) == set(counts) == set(MUTATION_KINDS)
    assert all(counts[k] == len(skus[k]) > 0 for k in MUTATION_KINDS)
    assert counts["price_stock"] >= 30
    touched = [s for k in MUTATION_KINDS for s in skus[k]]
    assert len(touched) == len(set(touched))  # one kind of change per product
    active_before = sum(not p["is_deleted"] for p in before["products"].values())
    assert result["active_before"] == active_before
    assert result["active_after"] == sum(not p["is_deleted"] for p in after["products"].values())
    assert result["active_after"] == (
        active_before + counts["new"] - counts["soft_delete"] - counts["hard_delete"]
    )

    bp, ap = before["products"], after["products"]

    def same(sku: str, *cols: str) -> bool:
        return all(bp[sku][c] == ap[sku][c] for c in cols)

    text_cols = ("title", "description", "brand", "category", "language")
    for sku in skus["price_stock"]:
        assert not same(sku, "price") or not same(sku, "stock")
        assert same(sku, *text_cols, "currency", "is_deleted")
        assert before["images"][sku] == after["images"][sku]
        assert ap[sku]["updated_at"] > bp[sku]["updated_at"]
    for sku in skus["text"]:
        assert not same(sku, "title") or not same(sku, "description")
        assert same(sku, "price", "stock", "brand", "category", "is_deleted")
        assert before["images"][sku] == after["images"][sku]
        assert before["truth"][sku] == after["truth"][sku]
        assert ap[sku]["updated_at"] > bp[sku]["updated_at"]
    for sku in skus["image"]:
        old, new = before["images"][sku], after["images"][sku]
        assert new[0][1] != old[0][1] and new[0][2] > old[0][2]
        assert new[1:] == old[1:]  # only the primary image changed
        assert (tmp_path / old[0][1]).exists() or before["truth"][sku][5] == "missing"
        with Image.open(tmp_path / new[0][1]) as img:
            img.load()
        assert same(sku, *text_cols, "price", "stock", "is_deleted")
        assert ap[sku]["updated_at"] > bp[sku]["updated_at"]  # the product was bumped too
        assert after["truth"][sku][0] == before["truth"][sku][0]  # same category
        assert after["truth"][sku][5] is None  # a new photo is a good one
        p = ap[sku]
        if demo_listings.mentions_color(f"{p['title']} {p['description']}", p["language"]):
            assert after["truth"][sku][1] == before["truth"][sku][1]  # text and photo agree
    assert any(after["truth"][s][1:3] != before["truth"][s][1:3] for s in skus["image"])
    for sku in skus["new"]:
        assert sku not in bp and not ap[sku]["is_deleted"]
        assert sku in after["truth"] and after["images"][sku]
        assert int(sku.split("-")[1]) > max(int(s.split("-")[1]) for s in bp)
        assert ap[sku]["updated_at"] >= min(p["updated_at"] for p in ap.values())
    for sku in skus["soft_delete"]:
        assert ap[sku]["is_deleted"] and not bp[sku]["is_deleted"]
        assert same(sku, *text_cols, "price", "stock")
        assert ap[sku]["updated_at"] > bp[sku]["updated_at"]
    for sku in skus["hard_delete"]:
        assert sku not in ap and sku not in after["images"] and sku not in after["truth"]
    untouched = set(bp) - set(touched)
    assert untouched and all(bp[s] == ap[s] for s in untouched)
    assert all(before["images"][s] == after["images"][s] for s in untouched)
    changed = [ap[s]["updated_at"] for k in MUTATION_KINDS if k != "hard_delete" for s in skus[k]]
    assert min(changed) > max(bp[s]["updated_at"] for s in bp)
    assert (
        result["started_at"]
        < min(changed).isoformat()
        <= max(changed).isoformat()
        < result["finished_at"]
    )


def test_mutate_is_reproducible_and_scales_with_the_day_fraction(catalog_url, tmp_path):
    _seed(catalog_url, tmp_path / "a", products=200, seed=2)
    with db.connect(catalog_url) as conn:
        nothing = demo_catalog.mutate(conn, image_root=tmp_path / "a", seed=1, day_fraction=0)
    assert all(n == 0 for n in nothing["counts"].values())
    before = _snapshot(catalog_url)
    with db.connect(catalog_url) as conn:
        first = demo_catalog.mutate(conn, image_root=tmp_path / "a", seed=8, day_fraction=3)
    assert before != _snapshot(catalog_url)
    assert 45 <= first["counts"]["price_stock"] <= 75  # ~10 % of 200 per day, times 3

    _seed(catalog_url, tmp_path / "b", products=200, seed=2, reset=True)
    with db.connect(catalog_url) as conn:
        second = demo_catalog.mutate(conn, image_root=tmp_path / "b", seed=8, day_fraction=3)
    assert first["skus"] == second["skus"]
    with pytest.raises(ValueError, match="unknown mutation kinds"), db.connect(catalog_url) as conn:
        demo_catalog.mutate(conn, image_root=tmp_path, rates={"price": 0.1})


def test_mutate_needs_a_seeded_catalogue(catalog_url, tmp_path):
    with (
        pytest.raises(demo_catalog.CatalogMissingError, match="demo seed"),
        db.connect(catalog_url) as conn,
    ):
        demo_catalog.mutate(conn, image_root=tmp_path)


def test_cli_seed_and_mutate(catalog_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENRICHMENT_DATABASE_URL", catalog_url)
    monkeypatch.setenv("ENRICHMENT_IMAGE_ROOT", str(tmp_path))
    parser = argparse.ArgumentParser()
    cli_demo.register(parser.add_subparsers())

    def run(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args(list(argv))
        code = args.func(args)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("demo", "seed", "--products", "40", "--seed", "1", "--workers", "1")
    assert code == 0 and "Seeded 40 products" in out
    code, _, err = run("demo", "seed", "--products", "40")
    assert code == 1 and "--reset" in err
    code, out, _ = run("demo", "seed", "--products", "30", "--reset", "--json")
    assert code == 0 and json.loads(out)["products"] == 30
    code, out, _ = run("demo", "mutate", "--seed", "3", "--day-fraction", "5", "--json")
    result = json.loads(out)
    assert code == 0 and set(result["counts"]) == set(MUTATION_KINDS)
    assert result["counts"]["price_stock"] == len(result["skus"]["price_stock"]) > 0
    code, out, _ = run("demo", "mutate", "--seed", "4")
    assert code == 0 and "price_stock" in out and "active products" in out
    assert _rows(catalog_url, "SELECT count(*) FROM catalog.products")[0][0] >= 28
