"""Capture building blocks without a database: the mode factory, key SQL, names, pgoutput."""

from __future__ import annotations

import struct
from importlib import resources
from types import SimpleNamespace

import pytest

from enrichment.cdc import mappings
from enrichment.cdc.capture.cursor import CursorCapture
from enrichment.cdc.capture.factory import capture_for
from enrichment.cdc.capture.keys import keys_from, safe_name
from enrichment.cdc.capture.logical import LogicalCapture
from enrichment.cdc.capture.pgoutput import Decoder
from enrichment.cdc.capture.positions import position_name
from enrichment.cdc.capture.triggers import TriggerCapture
from enrichment.cdc.capture.types import Captured
from enrichment.cdc.mapping import load_mapping
from enrichment.config import ConfigError

pytestmark = pytest.mark.unit

SETTINGS = SimpleNamespace(capture_mode="triggers", capture_schema="cap", overlap_seconds=30)


def test_the_factory_builds_each_mode_and_names_the_setting_on_a_bad_one():
    mapping = load_mapping(schema="shop")
    assert isinstance(capture_for(mapping, SETTINGS, "postgresql://x"), TriggerCapture)
    assert isinstance(capture_for(mapping, SETTINGS, "postgresql://x", "cursor"), CursorCapture)
    assert isinstance(capture_for(mapping, SETTINGS, "postgresql://x", "log"), LogicalCapture)
    with pytest.raises(ConfigError, match="ENRICHMENT_CAPTURE_MODE"):
        capture_for(mapping, SETTINGS, "postgresql://x", "polling")


def test_key_sql_names_and_positions():
    table = load_mapping(schema="shop").tables[0]
    sql = keys_from(table, "new_rows")
    assert sql.startswith("SELECT DISTINCT k.key::text FROM new_rows AS changed")
    assert "WHERE k.key IS NOT NULL" in sql
    assert safe_name("capture", "Shop.Products", "insert") == "capture_shop_products_insert"
    assert len(safe_name("x" * 100)) == 63
    assert position_name("demo", "log") == "demo:log"
    assert Captured(mode="cursor").keys == set() and Captured(mode="cursor").full is False


def test_the_demo_mapping_ships_inside_the_mappings_package():
    assert (resources.files(mappings) / "demo.yaml").is_file()


def _cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def test_pgoutput_decodes_a_relation_then_an_update_with_its_old_key():
    relation = (
        b"R" + struct.pack("!i", 7) + _cstr("shop") + _cstr("products") + b"d"
        + struct.pack("!h", 2)
        + b"\x01" + _cstr("sku") + struct.pack("!ii", 25, -1)
        + b"\x00" + _cstr("title") + struct.pack("!ii", 25, -1)
    )  # fmt: skip

    def row(values):
        out = struct.pack("!h", len(values))
        for v in values:
            out += b"n" if v is None else b"t" + struct.pack("!i", len(v)) + v.encode()
        return out

    update = b"U" + struct.pack("!i", 7) + b"K" + row(["A", None]) + b"N" + row(["B", "Tee"])
    decoder = Decoder()
    assert decoder.decode(relation) == []
    (change,) = decoder.decode(update)
    assert change.op == "update" and change.relation.qualified == "shop.products"
    assert change.old == {"sku": "A", "title": None}
    assert change.new == {"sku": "B", "title": "Tee"}
