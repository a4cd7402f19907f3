"""Every change kind, written the way Magento 2, Medusa v2 and WooCommerce write it, per
capture mode.

The shop lives in its own database; the platform reads it through a role that has
SELECT only (plus REPLICATION for the log mode), its state is in the platform database.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime

import psycopg2
import pytest

from enrichment.cdc import install as cdc
from enrichment.config import load_settings
from enrichment.orchestration import pipeline
from enrichment.runs.status import platform_status
from tests.shop_source import ShopSource
from tests.shops import magento, medusa, woocommerce

pytestmark = pytest.mark.integration
SHOPS = {"magento": magento, "medusa": medusa, "woocommerce": woocommerce}


@pytest.fixture(scope="session")
def logical_server():
    """A second PostgreSQL with wal_level=logical: the shop's own server in log mode."""
    import pgserver

    root = tempfile.mkdtemp(prefix="shop-pg-")
    os.chmod(root, 0o755)
    server = pgserver.get_server(root, cleanup_mode="stop")
    conn = psycopg2.connect(server.get_uri())
    conn.autocommit = True
    conn.cursor().execute("ALTER SYSTEM SET wal_level = logical")
    conn.close()
    server.cleanup()
    server = pgserver.get_server(root, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


def _admin_url(mode: str, request) -> str:
    if mode == "log":
        return request.getfixturevalue("logical_server")
    from enrichment.db import connection as db

    return db.server_url(load_settings())


@pytest.fixture
def shop(request, platform_db, monkeypatch, tmp_path):
    shop_name, mode = request.param
    module = SHOPS[shop_name]
    source = ShopSource(_admin_url(mode, request), module, replication=mode == "log")
    _use_mapping(module.MAPPING, monkeypatch, tmp_path / f"{shop_name}.yaml")
    monkeypatch.setenv("ENRICHMENT_SOURCE_SCHEMA", source.schema)
    monkeypatch.setenv("ENRICHMENT_CAPTURE_MODE", mode)
    # exact cursor windows, unless the shop's timestamps are coarser (whole seconds)
    monkeypatch.setenv("ENRICHMENT_OVERLAP_SECONDS", str(overlap_seconds(module)))
    settings = load_settings()
    cdc.install(source.owner_settings(settings))  # as the table owner (a DBA step)
    if mode == "triggers":
        source.grant_reader(settings.capture_schema)  # SELECT on the change log
    else:
        source.grant_reader()
    monkeypatch.setenv("ENRICHMENT_SOURCE_DATABASE_URL", source.reader_url)
    source.settings = load_settings()
    source.mode = mode
    yield source
    source.drop()


def _use_mapping(text: str, monkeypatch, path) -> None:
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("ENRICHMENT_SOURCE_MAPPING", str(path))


def _run(source, run_id: str) -> dict:
    return pipeline.run_all(run_id, datetime.now(UTC), settings=source.settings, use_clip=False)


def _classes(source, run_id: str) -> dict[str, str]:
    from enrichment.db import connection as db

    with db.connect(db.database_url(source.settings)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT sku, change_class FROM enrichment.run_items WHERE run_id = %s", (run_id,)
        )
        return dict(cur.fetchall())


def expected(shop_module, mode: str) -> dict[str, str]:
    """What a mode must detect: everything, except timestamp-skipping writes in cursor mode."""
    out: dict[str, str] = {}
    for _fn, classes, bumps_cursor in shop_module.CHANGES.values():
        if mode != "cursor" or bumps_cursor is not False:
            out.update(classes)
    return out


def seeded(shop_module) -> int:
    """Documents in the shop's seed (the first run's "new"); 9 unless the shop says."""
    return getattr(shop_module, "SEEDED", 9)


def overlap_seconds(shop_module) -> int:
    return getattr(shop_module, "CURSOR_OVERLAP_SECONDS", 0)


def active_after(shop_module) -> int:
    """Active documents once every change is written: the seed, less what a change
    removes (hard delete, unpublish, trash, the old SKU of a rename), plus new SKUs."""
    classes = expected(shop_module, "triggers").values()
    return (
        seeded(shop_module)
        - sum(c == "deleted" for c in classes)
        + sum(c == "new" for c in classes)
    )


PARAMS = [(s, m) for s in SHOPS for m in ("triggers", "log", "cursor")]


@pytest.mark.parametrize("shop", PARAMS, indirect=True, ids=[f"{s}-{m}" for s, m in PARAMS])
def test_every_change_kind_is_detected_through_a_read_only_role(shop):
    first = _run(shop, "r1")
    assert first["changes"] == {"new": seeded(shop.shop)}
    for fn, _expected, _bumps in shop.shop.CHANGES.values():
        shop.write(fn)
    _run(shop, "r2")
    assert _classes(shop, "r2") == expected(shop.shop, shop.mode)
    # nothing left for removed SKUs (hard delete, the old SKU of a rename, unpublished)
    gone = [s for s, c in expected(shop.shop, shop.mode).items() if c == "deleted"]
    with psycopg2.connect(shop.settings.database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM enrichment.tags WHERE sku = ANY(%s)", (gone,))
        assert cur.fetchone()[0] == 0
    # status and quality judge the stores against the source as the mapping reads it:
    # a delete the cursor mode cannot see (an unpublish, a disable) shows as an orphan
    missed = {
        sku
        for _fn, classes, bumps in shop.shop.CHANGES.values()
        for sku, cls in classes.items()
        if shop.mode == "cursor" and bumps is False and cls == "deleted"
    }
    status = platform_status(shop.settings)
    assert status["orphan_tags"] == len(missed)
    assert status["products_active"] == active_after(shop.shop)
    third = _run(shop, "r3")
    if shop.mode != "cursor":
        assert third["changes"] == {} and third["skipped_unchanged"] == 0


LATE = [("medusa", "triggers"), ("medusa", "log")]


@pytest.mark.parametrize("shop", LATE, indirect=True, ids=[f"{s}-{m}" for s, m in LATE])
def test_a_long_bulk_transaction_committing_late_loses_nothing(shop):
    _run(shop, "r1")
    bulk = psycopg2.connect(shop.owner_url)  # opened before r2, committed after it
    try:
        with bulk.cursor() as cur:
            cur.execute("UPDATE shop.product SET description = 'Bulk edit' WHERE id <> 'prod_SAME'")
        shop.write(medusa.price_change)  # an unrelated change committed meanwhile
        second = _run(shop, "r2")
        assert _classes(shop, "r2") == {"MD-PRICE": "metadata_only"}
        bulk.commit()
    finally:
        bulk.close()
    assert second["changes"] == {"metadata_only": 1}
    third = _run(shop, "r3")
    assert third["changes"] == {"text_changed": 8}
    assert "MD-SAME" not in _classes(shop, "r3")


ZONES = [("woocommerce", "cursor")]
READER_ZONES = [("woocommerce", "cursor"), ("medusa", "cursor")]


@pytest.mark.parametrize(
    "shop", READER_ZONES, indirect=True, ids=[f"{s}-{m}" for s, m in READER_ZONES]
)
@pytest.mark.parametrize("reader_zone", ["Asia/Tokyo", "America/New_York"])
def test_cursor_windows_do_not_depend_on_the_readers_time_zone(shop, reader_zone):
    """WooCommerce's ``post_modified_gmt`` holds UTC without a zone: read in the reader's
    own session zone, a save east of UTC fell before the window and one west of it
    after. Medusa's ``timestamptz`` columns, and its image versions rendered as text,
    must read the same whatever the zone."""
    shop.sql(f"ALTER ROLE {shop.role} SET timezone = '{reader_zone}'")
    _run(shop, "r1")
    save, classes, _ = next(c for c in shop.shop.CHANGES.values() if c[2] is True)
    shop.write(save)
    _run(shop, "r2")
    assert _classes(shop, "r2") == classes


@pytest.mark.parametrize("shop", ZONES, indirect=True, ids=["woocommerce-cursor"])
def test_a_cursor_column_in_local_time_is_read_in_the_zone_the_mapping_names(
    shop, monkeypatch, tmp_path
):
    """``post_modified`` is the site's local time (a zone without daylight saving here:
    in the hour a clock goes back, a local time names two instants)."""
    local = woocommerce.MAPPING.replace(
        "cursor: [post_modified_gmt]", f"cursor: [post_modified]\n    cursor_zone: {woocommerce.TZ}"
    )
    assert local != woocommerce.MAPPING
    _use_mapping(local, monkeypatch, tmp_path / "local.yaml")
    shop.settings = load_settings()
    shop.sql(f"ALTER ROLE {shop.role} SET timezone = 'Asia/Tokyo'")
    _run(shop, "r1")
    save, classes, _ = shop.shop.CHANGES["admin editor save (post_modified bumped)"]
    shop.write(save)
    _run(shop, "r2")
    assert _classes(shop, "r2") == classes


@pytest.mark.parametrize("shop", ZONES, indirect=True, ids=["woocommerce-cursor"])
def test_an_unknown_cursor_zone_fails_the_run_naming_the_table(shop, monkeypatch, tmp_path):
    from enrichment.config import ConfigError

    bad = woocommerce.MAPPING.replace(
        "cursor: [post_modified_gmt]", "cursor: [post_modified_gmt]\n    cursor_zone: Mars/Olympus"
    )
    _use_mapping(bad, monkeypatch, tmp_path / "bad.yaml")
    shop.settings = load_settings()
    named = r"wp_posts: cursor_zone 'Mars/Olympus' is not a time zone"
    with pytest.raises(ConfigError, match=named):
        cdc.check(shop.settings)
    with pytest.raises(ConfigError, match=named):  # the first run, before a full read
        _run(shop, "r1")
