"""Change-capture triggers in the source catalogue: tombstones and honest updated_at."""

from __future__ import annotations

import pytest

from enrichment.cdc import triggers
from enrichment.db import connection as db
from enrichment.demo.catalog import create_schema
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration


def test_install_is_detected_and_idempotent(platform_db):
    with db.connect(db.database_url(platform_db)) as conn:
        create_schema(conn, "catalog")
        assert triggers.installed(conn, "catalog") is False
        triggers.install(conn, "catalog")
        triggers.install(conn, "catalog")
        assert triggers.installed(conn, "catalog") is True


def test_hard_deletes_leave_tombstones_and_updates_bump_updated_at(platform_db):
    cat = Catalog(platform_db)  # installs the triggers
    cat.add("A", "Classic tee")
    cat.add("B", "Summer dress", "blue")
    (before,) = cat.sql("SELECT updated_at FROM catalog.products WHERE sku = 'A'")[0]
    cat.set_price("A", 12.0)  # the application forgets updated_at
    (after_price,) = cat.sql("SELECT updated_at FROM catalog.products WHERE sku = 'A'")[0]
    assert after_price > before
    cat.set_image("A", "green")  # an image change touches its product
    (after_image,) = cat.sql("SELECT updated_at FROM catalog.products WHERE sku = 'A'")[0]
    assert after_image > after_price
    cat.hard_delete("B")
    assert cat.sql("SELECT sku FROM catalog.product_tombstones") == [("B",)]
