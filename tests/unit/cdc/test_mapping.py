"""Loading a source mapping: the demo mapping is valid; bad files name line and key."""

from __future__ import annotations

import pytest

from enrichment.cdc.mapping import load_mapping, parse_mapping
from enrichment.cdc.mapping_types import MappingError

GOOD = """name: shop
document: SELECT sku FROM {schema}.items
tables:
  - name: "{schema}.items"
    keys: SELECT changed.sku
    cursor: [updated_at, created_at]
"""


def test_the_demo_mapping_loads_with_its_two_base_tables():
    mapping = load_mapping(schema="demo_src")
    assert [t.name for t in mapping.tables] == ["demo_src.products", "demo_src.product_images"]
    assert "demo_src.products" in mapping.document and "{schema}" not in mapping.document
    assert mapping.key == "sku" and mapping.grain == "variant"


def test_schema_placeholder_and_several_cursor_columns():
    mapping = parse_mapping(GOOD, "shop.yaml", schema="s1")
    assert mapping.tables[0].name == "s1.items"
    assert mapping.tables[0].cursor == ("updated_at", "created_at")


def test_zone_less_cursor_columns_are_read_as_utc_unless_the_table_names_a_zone():
    assert parse_mapping(GOOD).tables[0].cursor_zone == "UTC"
    berlin = GOOD + "    cursor_zone: Europe/Berlin\n"
    assert parse_mapping(berlin).tables[0].cursor_zone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("name: shop", "name: shop\ncolour: red"),
            r"shop.yaml, line 2, colour: unknown key",
        ),
        (
            GOOD.replace("document: SELECT", "document: DELETE"),
            r"line 2, document: must be a SELECT",
        ),
        (GOOD.replace("keys: SELECT changed.sku", "keys: SELECT sku"), r"line 5, keys: must refer"),
        (GOOD.replace('"{schema}.items"', "items"), r"line 4, name: expected schema.table"),
        (GOOD + "grain: sideways\n", r"line 7, grain: must be one of variant, parent"),
        (
            GOOD.replace("cursor: [updated_at, created_at]", "cursor: [updated at]"),
            r"line 6, cursor",
        ),
        (GOOD + "    cursor_zone: Europe/Berlin; SET x\n", r"line 7, cursor_zone: expected"),
        (GOOD + "    cursor_zone: UTC+3\n", r"'UTC\+3' would mean UTC-3 .* write Etc/GMT-3"),
        (
            GOOD.replace("cursor: [updated_at, created_at]", "cursor: []")
            + "    cursor_zone: UTC\n",
            r"line 7, cursor_zone: only meaningful with cursor columns",
        ),
        (
            GOOD.replace("    cursor: [updated_at, created_at]\n", "    cursor_zone: UTC\n"),
            r"line 6, cursor_zone: only meaningful with cursor columns",
        ),
        (
            "name: shop\ntables: []\ndocument: SELECT 1\n",
            r"line 2, tables: expected a non-empty list",
        ),
        ("name: shop\n", r"line 1, top level: missing required key 'document'"),
        ("name: [x\n", r"not valid YAML"),
    ],
)
def test_errors_name_the_file_line_and_key(text, message):
    with pytest.raises(MappingError, match=message):
        parse_mapping(text, "shop.yaml")


def test_a_missing_file_names_the_setting(tmp_path):
    with pytest.raises(MappingError, match="ENRICHMENT_SOURCE_MAPPING"):
        load_mapping(tmp_path / "nope.yaml")
