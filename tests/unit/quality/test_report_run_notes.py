"""The report explains a run's window: past interval, nothing to do, reversed; trend axes."""

from __future__ import annotations

import pytest

from enrichment.quality.report import svg
from enrichment.quality.report.view import run_notes

pytestmark = pytest.mark.unit


def test_a_run_that_processed_nothing_says_so():
    notes = run_notes({"lower": "2026-11-30T00:00", "upper": "2026-12-01T00:00",
                       "summary": {"processed": 0, "skipped_unchanged": 12}})  # fmt: skip
    assert notes == [
        "Nothing to do: no product in this run's window differed from what the platform "
        "had processed (12 checked unchanged)."
    ]


def test_a_past_interval_and_a_reversed_window_are_explained():
    past = run_notes({"lower": "2026-11-25T00:00", "upper": "2026-11-26T00:00",
                      "summary": {"processed": 3, "window": {"past_interval": True}}})  # fmt: skip
    assert past[0].startswith("Past interval") and "capture position was not moved" in past[0]
    reversed_ = run_notes({"lower": "2026-12-01T07:55", "upper": "2026-11-25T00:00",
                           "summary": {"processed": 0}})  # fmt: skip
    assert reversed_[0].startswith("Empty window") and "catalog_backfill" in reversed_[0]
    assert run_notes({"lower": None, "upper": "2026-12-01", "summary": {"processed": 5}}) == []


def test_trend_axis_labels_its_first_and_last_run():
    chart = svg.trend(
        [("2026-11-28 00:00 run-a", 1.0), ("2026-11-29 00:00 run-b", 2.0),
         ("2026-11-30 00:00 run-c (nothing to do)", 2.0)],
        title="t",
    )  # fmt: skip
    assert ">2026-11-28 00:00<" in chart and ">2026-11-30 00:00<" in chart
    assert "run-c (nothing to do)" in chart  # the point's tooltip flags the no-op run
