"""Quarantine records of unusable images: replaced per SKU, cleared when fixed."""

from __future__ import annotations

import pytest

from enrichment.db.connection import connect, database_url
from enrichment.images.quarantine import QuarantineRecord, clear, replace

pytestmark = pytest.mark.integration


def _rows(settings) -> list[tuple]:
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT sku, image_ref, reason, detail, run_id FROM {settings.state_schema}.quarantine "
            "ORDER BY 1, 2"
        )
        return cur.fetchall()


def test_replace_sets_the_records_of_the_given_skus_only(platform_db):
    url, s = database_url(platform_db), platform_db.state_schema
    replace(url, s, ["A", "B"], [
        QuarantineRecord("A", "a.jpg", "decode_error", "truncated"),
        QuarantineRecord("B", "b.jpg", "too_large", "x" * 900),
    ], "r1")  # fmt: skip
    rows = _rows(platform_db)
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("A", "a.jpg", "decode_error", "r1"),
        ("B", "b.jpg", "too_large", "r1"),
    ]
    assert len(rows[1][3]) == 500  # details are capped
    replace(url, s, ["A"], [QuarantineRecord("A", "a2.jpg", "not_found")], "r2")
    assert [(r[0], r[1], r[4]) for r in _rows(platform_db)] == [
        ("A", "a2.jpg", "r2"),
        ("B", "b.jpg", "r1"),
    ]
    clear(url, s, ["B"])
    clear(url, s, [])  # nothing to do
    assert [r[0] for r in _rows(platform_db)] == ["A"]
