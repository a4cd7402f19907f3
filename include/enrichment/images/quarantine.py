"""Quarantine: images that could not be used, with the reason, kept for review.

A SKU's quarantine records are replaced each time it is processed (a fixed image clears
its record) and removed when the SKU is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2.extras import execute_values

from enrichment.db.connection import connect


@dataclass
class QuarantineRecord:
    sku: str
    image_ref: str
    reason: str
    detail: str | None = None
    content_hash: str | None = None


def replace(
    url: str, schema: str, skus: list[str], records: list[QuarantineRecord], run_id: str | None
) -> None:
    """Make ``records`` the quarantine of ``skus`` (others of those SKUs are cleared)."""
    if not skus:
        return
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {schema}.quarantine WHERE sku = ANY(%s)", (skus,))
        if records:
            execute_values(
                cur,
                f"""INSERT INTO {schema}.quarantine
                       (sku, image_ref, reason, detail, content_hash, run_id)
                    VALUES %s ON CONFLICT (sku, image_ref) DO UPDATE SET
                       reason = EXCLUDED.reason, detail = EXCLUDED.detail,
                       content_hash = EXCLUDED.content_hash, run_id = EXCLUDED.run_id""",
                [
                    (r.sku, r.image_ref, r.reason, (r.detail or "")[:500], r.content_hash, run_id)
                    for r in records
                ],
            )


def clear(url: str, schema: str, skus: list[str]) -> None:
    """Remove the quarantine records of ``skus``."""
    replace(url, schema, skus, [], None)
