"""Past-interval incremental runs and backfill selections against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from enrichment.orchestration import pipeline
from enrichment.runs import lifecycle as runs
from enrichment.runs import selection as selections
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration


@pytest.fixture
def catalog(platform_db):
    cat = Catalog(platform_db)
    cat.add("A", "Red cotton tee", "red", category="T-Shirts")
    cat.add("B", "Blue summer dress", "blue", category="Dresses")
    cat.add("C", "Green chinos", "green", category="Pants_100%")
    pipeline.run_all("first", cat.now(), settings=cat.settings, use_clip=False)
    return cat


def _plant(catalog: Catalog, sku: str, title: str, when) -> None:
    catalog.sql(
        "UPDATE catalog.products SET title = %s, updated_at = %s WHERE sku = %s",
        (title, when, sku),
    )


def test_a_past_interval_reprocesses_its_changes_and_keeps_the_watermark(catalog):
    watermark = catalog.sql("SELECT position, run_id FROM enrichment.capture_positions")
    last_upper = catalog.sql("SELECT upper_ts FROM enrichment.runs WHERE run_id = 'first'")
    start = last_upper[0][0] - timedelta(days=3)
    catalog.add("D", "Black linen shirt", "black")  # late-arriving rows stamped in the past:
    _plant(catalog, "D", "Black linen shirt", start + timedelta(hours=12))  # inside the interval
    catalog.add("E", "White linen dress", "white")
    _plant(catalog, "E", "White linen dress", start - timedelta(days=1))  # before it

    summary = pipeline.run_all(
        "past", start + timedelta(days=1), settings=catalog.settings, use_clip=False,
        interval_start=start,
    )  # fmt: skip
    assert summary["changes"] == {"new": 1}
    assert summary["retagged"] == 1 and summary["window"]["past_interval"] is True
    assert "capture position not moved" in runs.format_summary(summary)
    assert catalog.sql("SELECT position, run_id FROM enrichment.capture_positions") == watermark
    assert catalog.sql(
        "SELECT value FROM enrichment.tags WHERE sku = 'D' AND attribute = 'material'"
    ) == [("linen",)]
    assert catalog.sql("SELECT count(*) FROM enrichment.tags WHERE sku = 'E'") == [(0,)]


def test_a_past_interval_without_a_start_refuses_naming_catalog_backfill(catalog):
    past = catalog.now() - timedelta(days=2)
    with pytest.raises(runs.PastIntervalError, match="catalog_backfill"):
        runs.detect("past", past, settings=catalog.settings)
    assert catalog.sql("SELECT count(*) FROM enrichment.runs WHERE run_id = 'past'") == [(0,)]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"selection": "skus", "skus": []}, "at least one SKU"),
        ({"selection": "skus", "skus": ["  ", ""]}, "at least one SKU"),
        ({"selection": "category"}, "needs a 'category'"),
        ({"selection": "updated_between"}, "needs 'since'"),
        (
            {
                "selection": "updated_between",
                "since": "2026-11-28T00:00:00Z",
                "until": "2026-11-25T00:00:00Z",
            },
            "is after 'until'",
        ),  # fmt: skip
        ({"selection": "updated_between", "since": "yesterday"}, "not a date-time"),
        ({"selection": "everything"}, "unknown selection"),
    ],
)
def test_an_incomplete_form_names_the_field(params, message):
    with pytest.raises(selections.SelectionError, match=message):
        selections.from_params(params)


def test_each_selection_parses_alone():
    assert selections.from_params({"selection": "skus", "skus": "A, B\nA"})["skus"] == ["A", "B"]
    assert selections.from_params({"selection": "category", "category": " dress "}) == {
        "force": False, "reconcile": False, "category": "dress"
    }  # fmt: skip
    since = selections.from_params({"selection": "updated_between", "since": "2026-11-25"})
    assert since["since"].day == 25 and "until" not in since
    assert selections.from_params({"selection": "all", "category": None}) == {
        "force": False, "reconcile": False
    }  # fmt: skip


def _skus(catalog, selection) -> list[str]:
    from enrichment.cdc.documents import scan_documents
    from enrichment.cdc.mapping import load_mapping
    from enrichment.db.connection import connect
    from enrichment.runs.lifecycle import selection_where

    mapping = load_mapping()
    with connect(catalog.url) as conn:
        where, params = selection_where(conn, catalog.settings, mapping, selection)
        return sorted(s.sku for s in scan_documents(conn, mapping, where=where, params=params))


def test_category_matches_the_label_in_any_case_and_the_tagged_category(catalog):
    assert _skus(catalog, {"category": "dresses"}) == ["B"]
    assert _skus(catalog, {"category": "DRESSES"}) == ["B"]
    tagged = catalog.sql(
        "SELECT value FROM enrichment.tags WHERE sku = 'B' AND attribute = 'category'"
    )
    assert tagged, "the fixture's dress should be tagged with a category"
    assert "B" in _skus(catalog, {"category": tagged[0][0].upper()})
    # LIKE metacharacters are literal: '%' matches nothing, '_' and '%' in a label match
    assert _skus(catalog, {"category": "%"}) == []
    assert _skus(catalog, {"category": "Pants_100%"}) == ["C"]
    assert _skus(catalog, {"category": "Pants_1000"}) == []
    assert _skus(catalog, {"category": "\\"}) == []


def test_checks_refuse_a_category_matching_nothing_listing_close_matches(catalog):
    with pytest.raises(selections.SelectionError, match="close matches: .*Dresses"):
        selections.check({"category": "Dressez"}, catalog.settings)
    with pytest.raises(selections.SelectionError, match="no product has any of the SKUs"):
        selections.check({"skus": ["nope"]}, catalog.settings)
    selections.check({"skus": ["A", "nope"], "category": "t-shirts"}, catalog.settings)


def test_dry_run_reports_what_would_be_processed_and_writes_nothing(catalog):
    _plant(catalog, "A", "Red linen tee", catalog.now())
    before = catalog.sql("SELECT count(*) FROM enrichment.runs")
    preview = selections.preview({"force": False}, catalog.now(), catalog.settings)
    assert preview["changes"] == {"text_changed": 1} and preview["skipped_unchanged"] == 2
    assert preview["to_tag"] == 1 and preview["text_to_embed"] == 1
    assert preview["estimated_seconds"] >= 0
    forced = selections.preview({"force": True}, catalog.now(), catalog.settings)
    assert forced["to_process"] == 3 and forced["text_to_embed"] == 3
    assert "would process      3" in selections.format_preview(forced)
    assert catalog.sql("SELECT count(*) FROM enrichment.runs") == before


def test_force_re_embeds_unchanged_products(catalog):
    summary = pipeline.run_all(
        "forced", catalog.now(), kind="backfill", selection={"skus": ["A", "B"], "force": True},
        settings=catalog.settings, use_clip=False,
    )  # fmt: skip
    assert summary["changes"] == {"reprocess": 2}
    assert summary["text_embedded"] == 2
    assert summary["step_counts"]["text_vectors_embedded"] >= 1
