"""Managed-trigger capture: an idempotent install, and the keys a run reads from the log."""

from __future__ import annotations

import pytest

from enrichment.cdc import install, refresh, source
from enrichment.cdc.capture.triggers import TriggerCapture
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration


def _read(settings, position=None, upper=None):
    capture = TriggerCapture(source.mapping_for(settings), settings.capture_schema)
    with source.source_connection(settings) as conn:
        return capture.read(conn, position, upper)


def test_install_is_idempotent_and_checked(platform_db):
    cat = Catalog(platform_db)  # installs the triggers once
    install.install(platform_db)
    assert install.check(platform_db)["ok"] is True
    assert cat.sql("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'enrichment_capture_%%'") == [
        (8,)  # four events on each of the two base tables
    ]


def test_updates_images_and_hard_deletes_are_read_after_the_last_position(platform_db):
    cat = Catalog(platform_db)
    cat.add("A", "Classic tee")
    cat.add("B", "Summer dress", "blue")
    first = _read(platform_db, upper=cat.now())
    assert first.full is True and {"A", "B"} <= first.keys  # no position: a full read
    cat.set_price("A", 12.0)  # no updated_at touched: the trigger still logs it
    cat.hard_delete("B")
    second = _read(platform_db, first.position, cat.now())
    assert second.full is False and second.keys == {"A", "B"}
    third = _read(platform_db, second.position, cat.now())
    assert third.keys == set()
    with source.source_connection(platform_db) as conn:  # what exists at all: B is gone
        assert refresh.root_keys(conn, source.mapping_for(platform_db)) == {"A"}
