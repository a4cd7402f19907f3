"""Bad source data and bad parameters are named, never silently passed."""

from __future__ import annotations

import pytest

from enrichment.cli.main import main
from enrichment.orchestration import pipeline
from enrichment.orchestration.tasks import backfill_selection
from enrichment.runs.status import platform_status
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration


def test_duplicate_sku_and_negative_stock_are_flagged_with_the_field(platform_db, capsys):
    cat = Catalog(platform_db)
    cat.sql("ALTER TABLE catalog.products DROP CONSTRAINT products_sku_key")
    cat.add("DUP", "Classic tee", "red")
    cat.add("DUP", "Classic tee (copy)", "blue")
    cat.add("NEG", "Wool hat", "black", category="Hats")
    cat.add("OK", "Summer dress", "blue", category="Dresses")
    cat.sql("UPDATE catalog.products SET stock = -4 WHERE sku = 'NEG'")
    summary = pipeline.run_all("r1", cat.now(), settings=cat.settings, use_clip=False)
    problems = {(p["problem"], p["field"], p["sku"]) for p in summary["input_problems"]}
    assert problems == {
        ("duplicate_sku", "document.sku", "DUP"),
        ("negative_stock", "document.stock", "NEG"),
    }
    assert summary["changes"] == {"new": 3}  # flags are not change classes
    assert summary["step_counts"]["items"] == 3
    dup = next(p for p in summary["input_problems"] if p["problem"] == "duplicate_sku")
    assert len(dup["value"]) == 2  # both product ids are named
    assert platform_status(cat.settings)["last_run"]["input_problems"] == summary["input_problems"]
    # the run goes on: every SKU is still tagged
    assert cat.sql("SELECT count(DISTINCT sku) FROM enrichment.tags") == [(3,)]


def test_bad_times_name_the_parameter(platform_db, capsys):
    with pytest.raises(ValueError, match="'since' is not a date-time: 'last tuesday'"):
        backfill_selection({"selection": "updated_between", "since": "last tuesday"})
    with pytest.raises(ValueError, match="'until' is not a date-time"):
        backfill_selection(
            {"selection": "updated_between", "since": "2026-03-01", "until": "2026-13-01"}
        )
    with pytest.raises(ValueError, match="'since' .* is after 'until'"):
        backfill_selection(
            {"selection": "updated_between", "since": "2026-03-02", "until": "2026-03-01"}
        )
    ok = backfill_selection({"selection": "updated_between", "since": "2026-03-01T00:00:00Z"})
    assert ok["since"].year == 2026
    assert main(["detect", "--run-id", "x", "--upper", "yesterday"]) == 2
    assert "--upper: 'yesterday' is not an ISO 8601 time" in capsys.readouterr().err
