"""The quality queries on a real platform state (the healthy template, then broken)."""

from __future__ import annotations

import pytest

from enrichment.quality import data as qd
from enrichment.quality import sql
from enrichment.tagging.taxonomy import Taxonomy
from tests.integration.quality.test_evaluate import quality_base, state  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def test_coverage_query_has_one_tagged_any_row_per_active_sku(state):  # noqa: F811
    rows = state.sql(
        f"SELECT sku, category, tagged FROM ({sql.coverage_query('enrichment', Taxonomy.load())}) q "
        "WHERE attribute = 'any' ORDER BY sku"
    )
    assert [r[0] for r in rows] == list("ABCDEFGHIJ")
    assert all(tagged == 1 for _, _, tagged in rows)
    state.sql("DELETE FROM enrichment.tags WHERE sku = 'C'")
    rows = state.sql(
        f"SELECT sku, category, tagged FROM ({sql.coverage_query('enrichment', Taxonomy.load())}) q "
        "WHERE attribute = 'any' AND tagged = 0"
    )
    assert rows == [("C", "unknown", 0)]  # no category tag left either


def test_quarantine_query_marks_the_quarantined_images(state):  # noqa: F811
    state.sql("INSERT INTO enrichment.quarantine (sku, image_ref, reason, detail) "
              "VALUES ('B', 'b.png', 'decode_error', 'truncated JPEG')")  # fmt: skip
    rows = state.sql(
        f"SELECT sku, quarantined FROM ({sql.quarantine_query('enrichment', qd.no_image_hash())}) q"
    )
    assert dict(rows)["B"] == 1 and sum(q for _, q in rows) == 1 and len(rows) == 10
