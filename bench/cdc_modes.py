"""Benchmark change capture per mode on a source whose documents need a join.

Builds the demo schema with ``--products`` products and one image row each (the document
joins ``product_images`` with a LATERAL aggregate), on a throw-away embedded PostgreSQL
with ``wal_level = logical``. Installs the managed triggers and the logical slot, then
writes ``--changes`` changes (half title edits that bump ``updated_at``, half image
updates in the child table that do not touch the product row) and measures, in one run:

* ``keyset_scan_today``: the single-table ``(updated_at, id)`` keyset scan of the window;
* ``triggers`` / ``log`` / ``cursor``: capture (read the change log / stream the slot /
  scan the cursor columns) plus re-reading the captured keys through the mapping;
  ``cursor`` also pays its key diff against the root table (hard deletes);
* ``write_overhead``: the same change batch written with and without the triggers.

    python bench/cdc_modes.py [--products 1000000] [--changes 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime

import psycopg2

SEED = """
INSERT INTO catalog.products (sku, title, description, brand, category, price, stock,
       updated_at)
SELECT 'SKU-' || lpad(g::text, 8, '0'), 'Product ' || g, 'A description of product ' || g,
       'Brand ' || (g %% 50), 'Category ' || (g %% 40), (g %% 1000) / 10.0 + 1, g %% 30,
       clock_timestamp() - interval '1 day' - (g %% 43200) * interval '1 minute'
  FROM generate_series(1, %(n)s) g;
INSERT INTO catalog.product_images (product_id, position, url, updated_at)
SELECT id, 0, 'images/' || sku || '.jpg', updated_at FROM catalog.products;
ANALYZE catalog.products; ANALYZE catalog.product_images;
"""

CHANGES = """
UPDATE catalog.products SET title = title || ' v%(round)s', updated_at = clock_timestamp()
 WHERE id %% %(step)s = 0 AND id <= %(half)s * %(step)s;
UPDATE catalog.product_images SET url = url || '?v%(round)s'
 WHERE product_id %% %(step)s = 1 AND product_id <= %(half)s * %(step)s + 1;
"""


def _server(root: str) -> str:
    import pgserver

    server = pgserver.get_server(root, cleanup_mode="stop")
    conn = psycopg2.connect(server.get_uri())
    conn.autocommit = True
    conn.cursor().execute("ALTER SYSTEM SET wal_level = logical")
    conn.cursor().execute("ALTER SYSTEM SET max_wal_size = '4GB'")
    conn.close()
    server.cleanup()
    return pgserver.get_server(root, cleanup_mode="stop")


def _sql(url: str, sql: str, params: dict | None = None) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
    finally:
        conn.close()


def _write_changes(url: str, products: int, changes: int, rnd: int) -> float:
    half = changes // 2
    step = max(2, products // changes)
    start = time.perf_counter()
    _sql(url, CHANGES, {"round": rnd, "step": step, "half": half})
    return time.perf_counter() - start


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 3)


def _capture_and_read(capture, url, mapping, position, upper, reconcile=False) -> dict:
    from enrichment.cdc import documents, refresh

    conn = psycopg2.connect(url)
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    try:
        captured, t_capture = _timed(lambda: capture.read(conn, position, upper))
        docs, t_read = _timed(lambda: sum(1 for _ in documents.read_documents(
            conn, mapping, captured.keys)))  # fmt: skip
        t_diff = 0.0
        if reconcile:
            _, t_diff = _timed(lambda: refresh.root_keys(conn, mapping))
    finally:
        conn.close()
    out = (
        {"wal_read_bytes": captured.info["wal_read_bytes"]}
        if "wal_read_bytes" in captured.info
        else {}
    )
    return out | {
        "keys": len(captured.keys),
        "documents": docs,
        "capture_s": t_capture,
        "reread_s": t_read,
        "key_diff_s": round(t_diff, 3),
        "total_s": round(t_capture + t_read + t_diff, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=10_000)
    args = parser.parse_args()

    from enrichment.cdc import detect
    from enrichment.cdc.capture.cursor import CursorCapture
    from enrichment.cdc.capture.logical import LogicalCapture
    from enrichment.cdc.capture.triggers import TriggerCapture
    from enrichment.cdc.mapping import load_mapping
    from enrichment.demo.catalog import create_schema

    root = tempfile.mkdtemp(prefix="bench-cdc-")
    os.chmod(root, 0o755)
    server = _server(root)
    url = server.get_uri()
    try:
        conn = psycopg2.connect(url)
        with conn:
            create_schema(conn, "catalog")
        conn.close()
        _, t_seed = _timed(lambda: _sql(url, SEED, {"n": args.products}))
        mapping = load_mapping(schema="catalog")
        no_trigger_write = _write_changes(url, args.products, args.changes, 0)

        triggers = TriggerCapture(mapping, "enrichment_capture")
        logical = LogicalCapture(mapping, url, name="bench_cdc")
        cursor = CursorCapture(mapping, overlap_seconds=0)
        conn = psycopg2.connect(url)
        triggers.install(conn)
        conn.commit()
        logical.install(conn)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_current_snapshot()::text, pg_current_wal_lsn()::text, now()")
            snap, lsn, t0 = cur.fetchone()
        conn.close()
        time.sleep(0.01)
        trigger_write = _write_changes(url, args.products, args.changes, 1)
        upper = datetime.now(UTC)

        conn = psycopg2.connect(url)
        baseline, t_base = _timed(lambda: sum(1 for _ in detect.scan_window(
            conn, "catalog", (t0, 0), upper)))  # fmt: skip
        conn.close()
        out = {
            "products": args.products,
            "changes_written": args.changes,
            "seed_s": t_seed,
            "keyset_scan_today": {
                "rows": baseline,
                "total_s": t_base,
                "note": "sees only the half that bumped products.updated_at",
            },
            "triggers": _capture_and_read(
                triggers, url, mapping, {"snapshot": snap, "upper": t0.isoformat()}, upper
            ),
            "log": _capture_and_read(logical, url, mapping, {"lsn": lsn}, upper),
            "cursor": _capture_and_read(
                cursor, url, mapping, {"upper": t0.isoformat()}, upper, reconcile=True
            ),
            "write_overhead": {
                "without_triggers_s": round(no_trigger_write, 3),
                "with_triggers_and_publication_s": round(trigger_write, 3),
            },
        }
        print(json.dumps(out, indent=1))
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
