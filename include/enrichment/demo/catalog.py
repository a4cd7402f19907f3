"""The demo source catalogue: seed a realistic shop and make a day of changes to it.

:func:`seed` creates the source catalogue schema (``products``, ``product_images``
and the demo-only ``ground_truth``) and fills it with products in English (~70 %)
and Vietnamese (~30 %), each with 1-3 procedurally rendered photos
(:mod:`enrichment.demo.images`); about 0.5 % of primary images are broken on
purpose (truncated, empty, text named .jpg, missing). :func:`mutate` applies one
day of realistic changes (price/stock updates, text edits, new photos, new
products, soft and hard deletes) and returns which SKUs it touched, so a test or
the demo can compare them with what the platform detected.

Ground truth records what a perfect tagger could know: category, colour and pattern
are drawn in the primary image; gender and material are recorded only when the
product's title, description or category label states them (NULL otherwise);
``broken_image`` names the defect of a deliberately broken primary image.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2.extras
from psycopg2 import sql

from enrichment.demo import images as demo_images
from enrichment.demo import listings

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.products (
  id bigserial PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  title text NOT NULL,
  description text NOT NULL DEFAULT '',
  brand text,
  category text,
  price numeric(12,2) NOT NULL,
  currency text NOT NULL DEFAULT 'USD',
  stock integer NOT NULL,
  language text NOT NULL DEFAULT 'en',
  is_deleted boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS products_updated_at_id ON {s}.products (updated_at, id);
CREATE TABLE IF NOT EXISTS {s}.product_images (
  id bigserial PRIMARY KEY,
  product_id bigint NOT NULL REFERENCES {s}.products(id) ON DELETE CASCADE,
  position integer NOT NULL,
  url text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (product_id, position)
);
CREATE TABLE IF NOT EXISTS {s}.ground_truth (
  sku text PRIMARY KEY,
  category text, color text, pattern text, gender text, material text,
  broken_image text
);
"""

IMAGE_DIR = "demo"  # images live under <image_root>/demo/
BROKEN_KINDS: tuple[str, ...] = ("truncated", "empty", "not_an_image", "missing")
MUTATION_KINDS: tuple[str, ...] = (
    "price_stock",
    "text",
    "image",
    "new",
    "soft_delete",
    "hard_delete",
)
DEFAULT_RATES: dict[str, float] = {
    "price_stock": 0.10,
    "text": 0.02,
    "image": 0.01,
    "new": 0.01,
    "soft_delete": 0.005,
    "hard_delete": 0.003,
}


# ---------------------------------------------------------------- listing text


class CatalogExistsError(RuntimeError):
    """The catalogue already holds products and ``reset`` was not requested."""


class CatalogMissingError(RuntimeError):
    """The source catalogue schema has not been created (run ``demo seed``)."""


@dataclass
class _Product(listings.Listing):
    """A listing with its identity and photos (position, url, render seed)."""

    id: int = 0
    sku: str = ""
    images: list[tuple[int, str, int]] = field(default_factory=list)
    broken: str | None = None


def _image_seed(*parts: object) -> int:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def _new_url(sku: str, position: int, rng: random.Random, image_root: Path) -> str:
    """A relative image path that does not exist yet (files are never overwritten)."""
    while True:
        url = f"{IMAGE_DIR}/{sku}-{position}-{rng.getrandbits(24):06x}.jpg"
        if not (image_root / url).exists():
            return url


def _ident(schema: str) -> sql.Identifier:
    return sql.Identifier(schema)


def create_schema(conn, schema: str = "catalog") -> None:
    """Create the source catalogue tables in ``schema`` (idempotent)."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL(SCHEMA_SQL).format(s=_ident(schema)))


def _product_count(conn, schema: str) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{_ident(schema).as_string(conn)}.products",))
        if cur.fetchone()[0] is None:
            return 0
        cur.execute(sql.SQL("SELECT count(*) FROM {}.products").format(_ident(schema)))
        return int(cur.fetchone()[0])


def _next_ids(conn, schema: str, n: int) -> list[int]:
    table = f"{_ident(schema).as_string(conn)}.products"
    with conn.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (table, n),
        )
        return [int(r[0]) for r in cur.fetchall()]


def _make_product(pid: int, rng: random.Random, image_root: Path, base_seed: int) -> _Product:
    sku = f"SKU-{pid:06d}"
    listing = listings.make_listing(rng)
    product = _Product(**vars(listing), id=pid, sku=sku)
    n_images = rng.choices((1, 2, 3), weights=(0.45, 0.35, 0.2))[0]
    for pos in range(n_images):
        url = _new_url(sku, pos, rng, image_root)
        product.images.append((pos, url, _image_seed(base_seed, pid, pos, url)))
    return product


def _write_image(job: tuple) -> None:
    """Render one image file (or a deliberately broken one). Runs in worker processes."""
    path_str, category, color, pattern, seed, broken = job
    path = Path(path_str)
    path.parent.mkdir(parents=True, exist_ok=True)
    if broken == "missing":
        path.unlink(missing_ok=True)
        return
    if broken == "empty":
        path.write_bytes(b"")
        return
    if broken == "not_an_image":
        path.write_text("<html><body><h1>404 Not Found</h1></body></html>\n")
        return
    data = demo_images.encode(demo_images.render(category, color, pattern, seed=seed))
    if broken == "truncated":
        data = data[: len(data) // 3]
    path.write_bytes(data)


def _render_all(products: list[_Product], image_root: Path, workers: int) -> tuple[int, float]:
    jobs = []
    for p in products:
        for pos, url, img_seed in p.images:
            broken = p.broken if pos == 0 else None
            jobs.append(
                (
                    str(image_root / url),
                    p.truth["category"],
                    p.truth["color"],
                    p.truth["pattern"],
                    img_seed,
                    broken,
                )
            )
    start = time.perf_counter()
    if workers > 1 and len(jobs) > 64:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for _ in pool.imap_unordered(_write_image, jobs, chunksize=32):
                pass
    else:
        for job in jobs:
            _write_image(job)
    return len(jobs), time.perf_counter() - start


def _insert(conn, schema: str, products: list[_Product]) -> None:
    s = _ident(schema)
    with conn.cursor() as cur:
        psycopg2.extras.execute_values(
            cur,
            sql.SQL(
                "INSERT INTO {}.products (id, sku, title, description, brand, category, "
                "price, currency, stock, language) VALUES %s"
            )
            .format(s)
            .as_string(conn),
            [
                (
                    p.id,
                    p.sku,
                    p.title,
                    p.description,
                    p.brand,
                    p.label,
                    p.price,
                    p.currency,
                    p.stock,
                    p.language,
                )
                for p in products
            ],
            page_size=1000,
        )
        psycopg2.extras.execute_values(
            cur,
            sql.SQL("INSERT INTO {}.product_images (product_id, position, url) VALUES %s")
            .format(s)
            .as_string(conn),
            [(p.id, pos, url) for p in products for pos, url, _ in p.images],
            page_size=1000,
        )
        psycopg2.extras.execute_values(
            cur,
            sql.SQL(
                "INSERT INTO {}.ground_truth (sku, category, color, pattern, gender, "
                "material, broken_image) VALUES %s"
            )
            .format(s)
            .as_string(conn),
            [
                (
                    p.sku,
                    p.truth["category"],
                    p.truth["color"],
                    p.truth["pattern"],
                    p.truth["gender"],
                    p.truth["material"],
                    p.broken,
                )
                for p in products
            ],
            page_size=1000,
        )


def _clear_images(image_root: Path) -> int:
    removed = 0
    folder = image_root / IMAGE_DIR
    if folder.is_dir():
        for path in folder.glob("SKU-*"):
            path.unlink()
            removed += 1
    return removed


def seed(
    conn,
    *,
    products: int,
    image_root: Path,
    schema: str = "catalog",
    seed: int = 42,
    reset: bool = False,
    workers: int = 1,
    broken_rate: float = 0.005,
) -> dict:
    """Create and fill the demo catalogue; commits. Returns a summary dict.

    Refuses (:class:`CatalogExistsError`) when ``schema.products`` already has rows,
    unless ``reset``: then the schema is dropped (with anything else in it) and the
    demo's image files under ``image_root/demo`` are removed before seeding again.
    """
    if products < 0:
        raise ValueError("products must be >= 0")
    started = time.perf_counter()
    image_root = Path(image_root)
    existing = _product_count(conn, schema)
    if existing and not reset:
        raise CatalogExistsError(
            f"{schema}.products already holds {existing} products; pass reset=True "
            "(demo seed --reset) to drop and recreate the demo catalogue"
        )
    if reset:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(schema)))
        _clear_images(image_root)
    create_schema(conn, schema)
    rng = random.Random(seed)
    items = [_make_product(pid, rng, image_root, seed) for pid in _next_ids(conn, schema, products)]
    n_broken = round(products * broken_rate)
    for i, p in enumerate(rng.sample(items, n_broken)):
        p.broken = BROKEN_KINDS[i % len(BROKEN_KINDS)]
    n_images, render_seconds = _render_all(items, image_root, workers)
    _insert(conn, schema, items)
    conn.commit()
    return {
        "schema": schema,
        "products": len(items),
        "images": n_images,
        "languages": dict(Counter(p.language for p in items)),
        "categories": dict(Counter(p.truth["category"] for p in items)),
        "broken_images": {p.sku: p.broken for p in items if p.broken},
        "render_seconds": round(render_seconds, 2),
        "images_per_second": round(n_images / render_seconds, 1) if render_seconds else None,
        "seconds": round(time.perf_counter() - started, 2),
    }


def _count(rng: random.Random, population: int, rate: float) -> int:
    """Stochastically rounded ``population * rate`` (unbiased for small catalogues)."""
    expected = population * rate
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def _now(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT clock_timestamp()")
        return cur.fetchone()[0].isoformat()


def _require_catalog(conn, schema: str) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{_ident(schema).as_string(conn)}.ground_truth",))
        if cur.fetchone()[0] is None:
            raise CatalogMissingError(
                f"{schema}.products/ground_truth not found: seed the demo catalogue first "
                "(python -m enrichment demo seed), or set ENRICHMENT_SOURCE_SCHEMA"
            )


def _active_products(conn, s: sql.Identifier) -> list[tuple]:
    """(id, sku, language, title, description, price, stock, category, color, pattern)."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT p.id, p.sku, p.language, p.title, p.description, p.price, p.stock, "
                "g.category, g.color, g.pattern FROM {s}.products p "
                "LEFT JOIN {s}.ground_truth g ON g.sku = p.sku "
                "WHERE NOT p.is_deleted ORDER BY p.id"
            ).format(s=s)
        )
        return cur.fetchall()


def _pick(rng: random.Random, active: list[tuple], counts: dict[str, int]) -> dict[str, list]:
    """Distinct active products for each kind of change (one change per product)."""
    total = sum(counts.values())
    if total > len(active):
        raise ValueError(
            f"rates ask for {total} changed products but only {len(active)} are "
            "active; lower rates or day_fraction"
        )
    chosen = rng.sample(active, total)
    picks: dict[str, list[tuple]] = {}
    at = 0
    for kind in counts:
        picks[kind] = sorted(chosen[at : at + counts[kind]])
        at += counts[kind]
    return picks


def _change_prices(conn, cur, s: sql.Identifier, rng: random.Random, picked) -> list[str]:
    rows = []
    for pid, _sku, _lang, _t, _d, price, stock, *_ in picked:
        what = rng.random()
        new_price, new_stock = float(price), int(stock)
        if what < 0.6:
            new_price = listings.new_price(rng, float(price))
        if what > 0.4 or new_price == float(price):
            new_stock = max(0, int(stock) + rng.randint(-40, 60))
            if new_stock == stock:
                new_stock = stock + 1
        rows.append((pid, new_price, new_stock))
    psycopg2.extras.execute_values(
        cur,
        sql.SQL(
            "UPDATE {s}.products p SET price = v.price::numeric, stock = v.stock::int, "
            "updated_at = clock_timestamp() FROM (VALUES %s) AS v(id, price, stock) "
            "WHERE p.id = v.id"
        )
        .format(s=s)
        .as_string(conn),
        rows,
    )
    return [r[1] for r in picked]


def _edit_texts(conn, cur, s: sql.Identifier, rng: random.Random, picked) -> list[str]:
    rows = []
    for pid, _sku, lang, title, desc, *_ in picked:
        rows.append((pid, *listings.edit_text(rng, lang, title, desc)))
    psycopg2.extras.execute_values(
        cur,
        sql.SQL(
            "UPDATE {s}.products p SET title = v.title, description = v.description, "
            "updated_at = clock_timestamp() FROM (VALUES %s) AS v(id, title, description) "
            "WHERE p.id = v.id"
        )
        .format(s=s)
        .as_string(conn),
        rows,
    )
    return [r[1] for r in picked]


def _new_look(rng: random.Random, row: tuple) -> tuple[str, str, str]:
    """The category, colour and pattern of a new primary photo for ``row``.

    The colour or pattern changes only when the listing's text does not state it.
    """
    _pid, _sku, lang, title, desc, _p, _s, category, color, pattern = row
    if category is None:  # not a demo product: no known look, keep it plain
        category, color, pattern = "t-shirt", "gray", "solid"
    words = f"{title} {desc}"
    if rng.random() < 0.6 and not listings.mentions_color(words, lang):
        color = rng.choice([c for c in demo_images.COLORS if c != color])
    if rng.random() < 0.4 and not listings.mentions_pattern(words, lang):
        pattern = rng.choice([p for p in demo_images.PATTERNS if p != pattern])
    return category, color, pattern


def _replace_primary_image(cur, s: sql.Identifier, pid: int, sku: str, url: str, look) -> None:
    cur.execute(
        sql.SQL(
            "UPDATE {s}.product_images SET url = %s, updated_at = clock_timestamp() "
            "WHERE product_id = %s AND position = 0"
        ).format(s=s),
        (url, pid),
    )
    if cur.rowcount == 0:
        cur.execute(
            sql.SQL(
                "INSERT INTO {s}.product_images (product_id, position, url) VALUES (%s, 0, %s)"
            ).format(s=s),
            (pid, url),
        )
    cur.execute(
        sql.SQL("UPDATE {s}.products SET updated_at = clock_timestamp() WHERE id = %s").format(s=s),
        (pid,),
    )
    cur.execute(
        sql.SQL(
            "INSERT INTO {s}.ground_truth (sku, category, color, pattern) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (sku) DO UPDATE SET color = EXCLUDED.color, "
            "pattern = EXCLUDED.pattern, broken_image = NULL"
        ).format(s=s),
        (sku, *look),
    )


def _new_photos(cur, s, rng: random.Random, picked, image_root: Path, seed: int) -> list[str]:
    changed = []
    for row in picked:
        pid, sku = row[0], row[1]
        look = _new_look(rng, row)
        url = _new_url(sku, 0, rng, image_root)
        _write_image((str(image_root / url), *look, _image_seed(seed, pid, 0, url), None))
        _replace_primary_image(cur, s, pid, sku, url, look)
        changed.append(sku)
    return changed


def _add_products(conn, schema: str, n_new: int, rng, image_root: Path, seed: int) -> list[str]:
    new_items = (
        [_make_product(pid, rng, image_root, seed) for pid in _next_ids(conn, schema, n_new)]
        if n_new
        else []
    )
    _render_all(new_items, image_root, workers=1)
    _insert(conn, schema, new_items)
    return [p.sku for p in new_items]


def _soft_delete(cur, s: sql.Identifier, picked) -> list[str]:
    cur.execute(
        sql.SQL(
            "UPDATE {s}.products SET is_deleted = true, "
            "updated_at = clock_timestamp() WHERE id = ANY(%s)"
        ).format(s=s),
        ([r[0] for r in picked],),
    )
    return [r[1] for r in picked]


def _hard_delete(cur, s: sql.Identifier, picked) -> list[str]:
    gone = [r[1] for r in picked]
    cur.execute(sql.SQL("DELETE FROM {s}.products WHERE sku = ANY(%s)").format(s=s), (gone,))
    cur.execute(sql.SQL("DELETE FROM {s}.ground_truth WHERE sku = ANY(%s)").format(s=s), (gone,))
    return gone


def _day_rates(rates: dict[str, float] | None) -> dict[str, float]:
    """:data:`DEFAULT_RATES` updated with ``rates`` (unknown kinds are refused)."""
    rates = {**DEFAULT_RATES, **(rates or {})}
    unknown = set(rates) - set(MUTATION_KINDS)
    if unknown:
        raise ValueError(f"unknown mutation kinds {sorted(unknown)}; use {MUTATION_KINDS}")
    return rates


def mutate(
    conn,
    *,
    image_root: Path,
    schema: str = "catalog",
    seed: int | None = None,
    day_fraction: float = 1.0,
    rates: dict[str, float] | None = None,
    commit: bool = True,
) -> dict:
    """Apply one day (times ``day_fraction``) of realistic changes to the catalogue.

    Every changed row gets ``updated_at = clock_timestamp()`` when it changes. Each
    active product gets at most one kind of change. With ``commit`` each kind is
    committed separately, like separate application transactions. Returns
    ``{"counts": {kind: n}, "skus": {kind: [sku, ...]}, "seed", "day_fraction",
    "active_before", "active_after", "started_at", "finished_at"}`` with kinds
    :data:`MUTATION_KINDS`.
    """
    image_root = Path(image_root)
    rates = _day_rates(rates)
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    rng = random.Random(seed)
    s = _ident(schema)
    _require_catalog(conn, schema)
    started_at = _now(conn)
    active = _active_products(conn, s)
    counts = {
        k: _count(rng, len(active), rates[k] * day_fraction) for k in MUTATION_KINDS if k != "new"
    }
    picks = _pick(rng, active, counts)
    skus: dict[str, list[str]] = {}

    def done(kind: str, affected: list[str]) -> None:
        skus[kind] = sorted(affected)
        if commit:
            conn.commit()

    with conn.cursor() as cur:
        done("price_stock", _change_prices(conn, cur, s, rng, picks["price_stock"]))
        done("text", _edit_texts(conn, cur, s, rng, picks["text"]))
        done("image", _new_photos(cur, s, rng, picks["image"], image_root, seed))
        n_new = _count(rng, len(active), rates["new"] * day_fraction)
        done("new", _add_products(conn, schema, n_new, rng, image_root, seed))
        done("soft_delete", _soft_delete(cur, s, picks["soft_delete"]))
        done("hard_delete", _hard_delete(cur, s, picks["hard_delete"]))
        cur.execute(sql.SQL("SELECT count(*) FROM {s}.products WHERE NOT is_deleted").format(s=s))
        active_after = int(cur.fetchone()[0])
    return {
        "counts": {k: len(skus[k]) for k in MUTATION_KINDS},
        "skus": {k: skus[k] for k in MUTATION_KINDS},
        "seed": seed,
        "day_fraction": day_fraction,
        "active_before": len(active),
        "active_after": active_after,
        "started_at": started_at,
        "finished_at": _now(conn),
    }
