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


def test_a_small_catalogue_is_judged_whole(state):  # noqa: F811
    with db.connect(state.url) as conn:
        assert qd.judged_keys(conn, state.settings, "r2", 0) is None  # sampling off
        assert qd.judged_keys(conn, state.settings, "r2", 10) is None  # 10 SKUs: all of them


def test_judged_keys_are_the_runs_skus_and_random_samples(state):  # noqa: F811
    with db.connect(state.url) as conn:
        judged = qd.judged_keys(conn, state.settings, "r2", 3)
        run_skus = {r[0] for r in state.sql("SELECT sku FROM enrichment.run_items "
                                            "WHERE run_id = 'r2'")}  # fmt: skip
    assert judged is not None and judged.documents == 10 and judged.sample == 3
    assert judged.run_skus == len(run_skus) and run_skus <= judged.keys
    assert len(judged.keys) <= len(run_skus) + 6
    assert "random sample of 3 of the source's 10" in judged.note()


def test_freshness_and_orphans_on_judged_keys_read_only_those_skus(state):  # noqa: F811
    state.sql("UPDATE catalog.products SET title = 'Renamed' WHERE sku IN ('A', 'C')")
    state.sql("DELETE FROM catalog.products WHERE sku = 'B'")  # a hard delete not processed
    upper = state.sql("SELECT clock_timestamp()")[0][0]
    keys = frozenset({"A", "B", "D"})
    with db.connect(state.url) as conn:
        rows, population = qd.freshness_rows(conn, state.settings, upper, keys)
        frame = qd.orphan_rows(conn, state.settings, [state.text_index()], keys)
    stale = {r["sku"]: r["change"] for r in rows if not r["fresh"]}
    assert population == 2  # A and D have documents; C is stale but not judged
    assert stale == {"A": "text_changed", "B": "deleted"}
    assert set(frame["sku"]) == {"A", "B", "D"}
    assert dict(zip(frame["sku"], frame["state"], strict=True))["B"] == "unknown"
