"""Change-capture helpers installed in the source catalogue (``python -m enrichment cdc install``).

Hard deletes leave no row to find, so a trigger records a tombstone for every deleted
product. A trigger is chosen over a periodic reconciliation scan because it costs
O(deletes) instead of O(catalogue) per run; the reconciliation pass in
``changes.reconcile_deletes`` remains as a safety net (first run, and backfills with
``reconcile``) for deletes made while the trigger was not installed.

Two more triggers keep ``products.updated_at`` honest: an UPDATE that forgets to bump
it gets ``clock_timestamp()``, and any change to a product's images bumps its product.
"""

from __future__ import annotations

INSTALL_SQL = """
CREATE TABLE IF NOT EXISTS {src}.product_tombstones (
    product_id bigint NOT NULL,
    sku        text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS product_tombstones_deleted_at ON {src}.product_tombstones (deleted_at);

CREATE OR REPLACE FUNCTION {src}.enrichment_record_tombstone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {src}.product_tombstones (product_id, sku) VALUES (OLD.id, OLD.sku);
    RETURN OLD;
END $$;
DROP TRIGGER IF EXISTS enrichment_tombstone ON {src}.products;
CREATE TRIGGER enrichment_tombstone AFTER DELETE ON {src}.products
    FOR EACH ROW EXECUTE FUNCTION {src}.enrichment_record_tombstone();

CREATE OR REPLACE FUNCTION {src}.enrichment_bump_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at AND NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS enrichment_bump_updated_at ON {src}.products;
CREATE TRIGGER enrichment_bump_updated_at BEFORE UPDATE ON {src}.products
    FOR EACH ROW EXECUTE FUNCTION {src}.enrichment_bump_updated_at();

CREATE OR REPLACE FUNCTION {src}.enrichment_touch_product() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {src}.products SET updated_at = clock_timestamp()
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.product_id ELSE NEW.product_id END;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS enrichment_touch_product ON {src}.product_images;
CREATE TRIGGER enrichment_touch_product AFTER INSERT OR UPDATE OR DELETE ON {src}.product_images
    FOR EACH ROW EXECUTE FUNCTION {src}.enrichment_touch_product();
"""


def install(conn, source_schema: str) -> None:
    """Create the tombstone table and triggers in ``source_schema`` (idempotent)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{source_schema}.products",))
        if cur.fetchone()[0] is None:
            raise RuntimeError(
                f"table {source_schema}.products not found: seed the demo catalogue "
                "(python -m enrichment demo seed) or set ENRICHMENT_SOURCE_SCHEMA"
            )
        cur.execute(INSTALL_SQL.format(src=source_schema))


def installed(conn, source_schema: str) -> bool:
    """Whether the tombstone table exists in ``source_schema``."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{source_schema}.product_tombstones",))
        return cur.fetchone()[0] is not None
