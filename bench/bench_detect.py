"""Benchmark change detection at catalogue scale: first run, daily run, page sizes.

Builds a synthetic source catalogue of ``--products`` rows (SQL ``generate_series``, no
images: detection never opens them; ``updated_at`` spread over the last 30 days), then
measures ``runs.detect`` in one process:

* ``first_run``: everything is new (products/s, peak Python memory, manifest bytes);
* ``daily_run``: after one day of changes on ``--daily-fraction`` of the products
  (price-only, text, image and soft-delete updates plus hard deletes), how long a run
  takes to find them among the re-read overlap window, and that it found exactly them;
* ``page_size``: the keyset scan alone over the whole catalogue at several page sizes.

Uses ``ENRICHMENT_DATABASE_URL`` when set, otherwise a throw-away embedded PostgreSQL.

    python bench/bench_detect.py [--products 200000] [--daily-fraction 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import UTC, datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seed(url: str, products: int) -> None:
    from enrichment.cdc import install as cdc
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.demo.catalog import create_schema

    with db.connect(url) as conn, conn.cursor() as cur:
        create_schema(conn, "catalog")
        cur.execute(
            """INSERT INTO catalog.products (sku, title, description, brand, category, price,
                      stock, updated_at)
               SELECT 'SKU-' || lpad(g::text, 8, '0'), 'Product ' || g,
                      'A description of product ' || g || ' with some more words in it.',
                      'Brand ' || (g %% 50), 'Category ' || (g %% 40), (g %% 1000) / 10.0 + 1,
                      g %% 30, clock_timestamp() - (g %% 43200) * interval '1 minute'
                 FROM generate_series(1, %s) g""",
            (products,),
        )
        cur.execute(
            """INSERT INTO catalog.product_images (product_id, position, url, updated_at)
               SELECT id, 0, 'images/' || sku || '.jpg', updated_at FROM catalog.products"""
        )
    cdc.install(load_settings())  # after the bulk load: its triggers would log every row


def mutate(url: str, fraction: float) -> dict[str, int]:
    """One day of changes in the proportions of the demo (price-heavy)."""
    from enrichment.db import connection as db

    n = {}
    with db.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM catalog.products")
        total = cur.fetchone()[0]
        k = max(5, int(total * fraction))
        plan = [  # (kind, share of the day's changes, statement on ids)
            ("metadata_only", 0.70, "UPDATE catalog.products SET price = price + 1 WHERE id = ANY(%s)"),
            ("text_changed", 0.14, "UPDATE catalog.products SET title = title || ' v2' WHERE id = ANY(%s)"),
            ("image_changed", 0.07, "UPDATE catalog.product_images SET url = url || '?v=2', "
                                    "updated_at = clock_timestamp() WHERE product_id = ANY(%s)"),
            ("deleted_soft", 0.05, "UPDATE catalog.products SET is_deleted = true WHERE id = ANY(%s)"),
            ("deleted_hard", 0.04, "DELETE FROM catalog.products WHERE id = ANY(%s)"),
        ]  # fmt: skip
        start = 1
        for kind, share, statement in plan:
            ids = list(range(start, start + max(1, int(k * share))))
            start += len(ids)
            cur.execute(statement, (ids,))
            n[kind] = len(ids)
    return n


def detect(settings, run_id: str) -> tuple[dict, float, int]:
    from enrichment.runs import lifecycle as runs

    started = time.perf_counter()
    run = runs.detect(run_id, datetime.now(UTC), settings=settings)
    seconds = time.perf_counter() - started
    return run, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def commit_without_processing(settings, run: dict) -> None:
    """Mark every shard done (no models here: this measures detection) and commit."""
    from enrichment.runs import lifecycle as runs
    from enrichment.runs.shard_store import ShardStore

    store = ShardStore.from_settings(settings)
    for shard in range(run["shards"]):
        store.write_result(run["run_id"], shard, {"status": "ok", "counts": {}})
    runs.commit(run["run_id"], settings=settings)


def scan_pages(url: str, page_sizes: list[int]) -> dict[str, float]:
    from enrichment.cdc import detect as changes
    from enrichment.db import connection as db

    out = {}
    with db.connect(url) as conn:
        for size in page_sizes:
            started = time.perf_counter()
            rows = sum(
                1
                for _ in changes.scan_window(
                    conn, "catalog", None, datetime.now(UTC), page_size=size
                )
            )
            out[str(size)] = round(rows / (time.perf_counter() - started))
    return out


# The page query before it applied LIMIT ahead of the image join: the join and GROUP BY ran
# over every remaining row for each page (kept here as the comparison variant).
JOIN_THEN_LIMIT = """
SELECT p.id, p.updated_at, array_agg(i.url ORDER BY i.position)
  FROM catalog.products p LEFT JOIN catalog.product_images i ON i.product_id = p.id
 WHERE p.updated_at <= %s AND (p.updated_at, p.id) > (%s, %s)
 GROUP BY p.id ORDER BY p.updated_at, p.id LIMIT %s"""


def scan_join_then_limit(url: str, page_size: int, pages: int) -> float:
    from enrichment.db import connection as db

    rows, key = 0, ("-infinity", 0)
    started = time.perf_counter()
    with db.connect(url) as conn, conn.cursor() as cur:
        for _ in range(pages):
            cur.execute(JOIN_THEN_LIMIT, (datetime.now(UTC), *key, page_size))
            batch = cur.fetchall()
            rows += len(batch)
            if len(batch) < page_size:
                break
            key = (batch[-1][1], batch[-1][0])
    return round(rows / (time.perf_counter() - started))


def folder_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


FIRST_RUN, DAILY_RUN = "bench-first", "bench-daily"


def first_and_daily(settings, products: int, daily_fraction: float) -> tuple[dict, dict]:
    """Seed, detect everything (first run), commit, change a day's share, detect again."""
    url = settings.database_url
    started = time.perf_counter()
    seed(url, products)
    seeded = time.perf_counter() - started
    run, seconds, peak = detect(settings, FIRST_RUN)
    first = {
        "products": products,
        "seed_seconds": round(seeded, 1),
        "seconds": round(seconds, 2),
        "products_per_s": round(products / seconds),
        "shards": run["shards"],
        "process_peak_rss_mb": round(peak / 2**20),
        "manifest_mb": round(folder_bytes(settings.shard_store) / 2**20, 1),
    }
    commit_without_processing(settings, run)
    expected = mutate(url, daily_fraction)
    run, seconds, peak = detect(settings, DAILY_RUN)
    found = dict(run["counts"])
    daily = {
        "changed": sum(expected.values()),
        "seconds": round(seconds, 2),
        "process_peak_rss_mb": round(peak / 2**20),
        "expected": expected,
        "detected": found,
        "exact": (
            found.get("metadata_only") == expected["metadata_only"]
            and found.get("text_changed") == expected["text_changed"]
            and found.get("image_changed") == expected["image_changed"]
            and found.get("deleted") == expected["deleted_soft"] + expected["deleted_hard"]
        ),
    }
    return first, daily


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--daily-fraction", type=float, default=0.05)
    args = parser.parse_args()
    from scratch import scratch_database

    from enrichment.config import load_settings

    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        os.environ["ENRICHMENT_SHARD_STORE"] = os.path.join(tmp, "shards")
        with scratch_database("detect") as url:
            first, daily = first_and_daily(load_settings(), args.products, args.daily_fraction)
            pages = scan_pages(url, [1_000, 5_000, 20_000])
            pages["5000_join_then_limit_first_20_pages"] = scan_join_then_limit(url, 5_000, 20)
    print(
        json.dumps(
            {"first_run": first, "daily_run": daily, "scan_rows_per_s_by_page_size": pages},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
