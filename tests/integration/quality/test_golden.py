"""The accuracy check's golden sample: the ground-truth table, a named table, or a CSV."""

from __future__ import annotations

import pytest

from enrichment.config import ConfigError
from enrichment.db import connection as db
from enrichment.quality.golden import resolve_golden
from enrichment.tagging.taxonomy import Taxonomy
from tests.integration.quality.test_evaluate import quality_base, state  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def _resolve(state, golden: str):  # noqa: F811
    with db.connect(state.url) as conn:
        found = resolve_golden(conn, state.settings, golden, Taxonomy.load())
        conn.commit()
        return found


def test_auto_uses_the_ground_truth_table_and_none_disables_it(state):  # noqa: F811
    golden = _resolve(state, "auto")
    assert golden["kind"] == "table" and golden["table"] == "catalog.ground_truth"
    assert {"category", "color"} <= set(golden["attributes"])
    assert _resolve(state, "none") is None


def test_a_csv_sample_is_loaded_into_the_golden_table(state, tmp_path):  # noqa: F811
    path = tmp_path / "golden.csv"
    path.write_text("sku,attribute,value\nA,color,red\nB,color,blue\nC,category,pants\n")
    golden = _resolve(state, str(path))
    assert golden == {
        "kind": "csv", "path": str(path), "source": str(path), "attributes": ["category", "color"],
    }  # fmt: skip
    rows = state.sql("SELECT sku, attribute, value FROM enrichment.quality_golden ORDER BY 1")
    assert rows == [("A", "color", "red"), ("B", "color", "blue"), ("C", "category", "pants")]


def test_bad_golden_settings_name_the_setting(state, tmp_path):  # noqa: F811
    with pytest.raises(ConfigError, match="ENRICHMENT_QUALITY_GOLDEN.*no such table"):
        _resolve(state, "catalog.nothing_here")
    path = tmp_path / "g.csv"
    path.write_text("sku,flavour\nA,sweet\n")
    with pytest.raises(ConfigError, match="attribute 'flavour'"):
        _resolve(state, str(path))
