"""The report's numbers, read from a real platform state."""

from __future__ import annotations

import pytest

from enrichment.db import connection as db
from enrichment.quality import data as qd
from enrichment.tagging.taxonomy import Taxonomy
from tests.integration.quality.test_evaluate import quality_base, state  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def test_coverage_matrix_counts_tagged_skus_per_category(state):  # noqa: F811
    with db.connect(state.url) as conn, conn.cursor() as cur:
        matrix = qd.coverage_matrix(cur, "enrichment", Taxonomy.load())
    any_rows = {m["category"]: m for m in matrix if m["attribute"] == "any"}
    assert sum(m["applicable"] for m in any_rows.values()) == 10
    assert all(m["tagged"] == m["applicable"] for m in any_rows.values())


def test_quarantine_reasons_group_active_skus_with_an_example(state):  # noqa: F811
    for sku in ("C", "B"):
        state.sql("INSERT INTO enrichment.quarantine (sku, image_ref, reason, detail) "
                  "VALUES (%s, 'x.png', 'decode_error', 'truncated JPEG')", (sku,))  # fmt: skip
    with db.connect(state.url) as conn, conn.cursor() as cur:
        reasons = qd.quarantine_reasons(cur, "enrichment")
    assert reasons == [
        {"reason": "decode_error", "count": 2, "samples": ["B", "C"], "example": "truncated JPEG"}
    ]


def test_freshness_rows_find_a_change_made_before_the_bound_but_not_processed(state):  # noqa: F811
    state.sql("UPDATE catalog.products SET title = 'Renamed tee' WHERE sku = 'A'")
    upper = state.sql("SELECT clock_timestamp()")[0][0]
    with db.connect(state.url) as conn:
        rows, population = qd.freshness_rows(conn, state.settings, upper)
    assert population == 10
    stale = [r for r in rows if not r["fresh"]]
    assert [r["sku"] for r in stale] == ["A"]


def test_orphan_rows_mark_a_vector_of_no_source_document_unknown(state):  # noqa: F811
    index = state.text_index()
    table = f"enrichment.vec_{index}"
    state.sql(f"INSERT INTO {table} (sku, embedding, model_id, content_hash) "
              f"SELECT 'GHOST-1', embedding, model_id, content_hash FROM {table} LIMIT 1")  # fmt: skip
    state.sql("UPDATE catalog.products SET is_deleted = true WHERE sku = 'B'")
    with db.connect(state.url) as conn:
        frame = qd.orphan_rows(conn, state.settings, [index])
    states = {(r.store, r.sku): r.state for r in frame.itertuples()}
    assert states[(f"vec_{index}", "GHOST-1")] == "unknown"
    assert states[(f"vec_{index}", "B")] == "deleted"  # soft-deleted in the source
    assert states[(f"vec_{index}", "A")] == "active"


def test_expected_vector_counts_and_histograms(state):  # noqa: F811
    with db.connect(state.url) as conn, conn.cursor() as cur:
        expected = qd.expected_vector_counts(cur, "enrichment", ("text", "image"))
        histograms = qd.confidence_histograms(cur, "enrichment", bins=5)
    assert expected == {"active": 10, "text": 10, "image": 10}
    assert "category" in histograms and all(len(h) == 5 for h in histograms.values())
    assert sum(histograms["category"]) >= 10
