"""The report's view of a run: counts, heat-coloured coverage, flagged drift, lines, charts."""

from __future__ import annotations

import pytest

from enrichment.quality.report import view

pytestmark = pytest.mark.unit


def _check(name, outcome, category=None, **kw):
    return {
        "name": name, "category": category or name.split(".")[0], "outcome": outcome,
        "description": name, "observed_text": kw.get("observed", "1"),
        "threshold_text": kw.get("threshold", "≥ 1"),
    }  # fmt: skip


CHECKS = [
    _check("coverage.any", "pass"),
    _check("coverage.color", "fail"),
    _check("drift.color", "warn"),
    _check("error_rate.quarantine", "pass", observed="0.50 %", threshold="≤ 0.50 %"),
    _check("accuracy.color", "pass", threshold="≥ 92.00 %"),
]
DATA = {
    "thresholds": {"max_psi": 0.2, "coverage_any": 0.98},
    "coverage": [
        {"category": "unknown", "attribute": "any", "applicable": 1, "tagged": 0},
        {"category": "dress", "attribute": "any", "applicable": 4, "tagged": 4},
        {"category": "dress", "attribute": "color", "applicable": 4, "tagged": 2},
    ],
    "distributions": [
        {"attribute": "color", "value": "red", "n": 3, "previous": 1},
        {"attribute": "color", "value": "blue", "n": 1, "previous": 3},
    ],
    "drift": {"color": 0.31},
    "accuracy": [{"attribute": "color", "emitted": 4, "correct": 3}],
    "freshness": {"stale": 2, "population": 40, "bound": "2026-02-01 00:00", "samples": []},
    "histograms": {"color": [0, 1, 3]},
}
TREND = [
    {"run_id": "r1", "committed_at": "2026-01-31T00:00:00", "metrics": {"coverage_any": 0.97}},
    {"run_id": "r2", "committed_at": "2026-02-01T00:00:00", "metrics": {"coverage_any": 0.99}},
]


def _context(**kw):
    args = {"run": {"run_id": "r2", "summary": {"processed": 7}}, "checks": CHECKS,
            "metrics": {"active_skus": 1234, "coverage_any": 0.9712}, "data": DATA,
            "trend": TREND, **kw}  # fmt: skip
    return view.context(**args, checked_at="2026-02-01T01:00:00+00:00", data_docs=None)


def test_counts_verdict_failures_and_tiles():
    ctx = _context()
    assert ctx["passed"] is False
    assert ctx["counts"] == {"checks": 5, "passed": 3, "failed": 1, "warnings": 1, "skipped": 0}
    assert [c["name"] for c in ctx["failures"]] == ["coverage.color", "drift.color"]
    tiles = {t["key"]: t["value"] for t in ctx["tiles"]}
    assert tiles["active_skus"] == "1,234" and tiles["coverage_any"] == "97.12 %"
    assert tiles["processed"] == "7" and tiles["max_psi"] == "n/a"
    assert [g["title"] for g in ctx["groups"]] == ["Coverage", "Error rate", "Drift", "Accuracy"]


def test_coverage_rows_put_unknown_last_and_colour_each_cell():
    cov = _context()["coverage"]
    assert cov["attributes"] == ["color"]
    assert [r["category"] for r in cov["rows"]] == ["dress", "unknown"]
    (cell,) = cov["rows"][0]["cells"]
    assert cell["text"] == "50 %" and cell["bg"] == "hsl(30, 65%, 86%)"
    assert cov["rows"][1]["cells"] == [None]  # no colour row for unknown products


def test_drift_above_the_threshold_is_flagged_and_charts_are_svg():
    ctx = _context()
    (dist,) = ctx["distributions"]
    assert dist["flagged"] is True and dist["psi"] == 0.31 and dist["more"] == 0
    assert dist["svg"].startswith("<svg") and "red" in dist["svg"]
    assert ctx["histograms"][0]["svg"].startswith("<svg")
    assert len(ctx["trends"]) == 6 and "r2" in ctx["trends"][0]["svg"]


def test_accuracy_freshness_and_quarantine_lines():
    ctx = _context()
    assert ctx["accuracy"] == [{"attribute": "color", "emitted": 4, "correct": 3,
                                "precision": "75.0 %", "threshold": "≥ 92.00 %"}]  # fmt: skip
    assert ctx["freshness_line"] == (
        "2 of 40 products changed up to 2026-02-01 00:00 are not processed yet."
    )
    assert ctx["quarantine_line"] == (
        "0.50 % of the images of active products could not be used (threshold ≤ 0.50 %)."
    )
    empty = view.context({}, [], {}, {}, [], checked_at="t", data_docs=None)
    assert empty["passed"] is True and empty["quarantine_line"] == "Not checked."
    assert empty["freshness_line"] == "Not checked (no incremental run bounds it)."
    assert view.pct(None) == "n/a" and view.pct(0.1234, 2) == "12.34 %"


def test_freshness_line_says_when_it_was_judged_on_a_sample():
    sample = {"judged": 20040, "run_skus": 40, "sample": 20000, "documents": 2000000}
    fresh = {"stale": 1, "population": 20040, "bound": "2026-02-01 00:00", "samples": []}
    ctx = view.context({}, [], {}, {"freshness": {**fresh, "source_sample": sample}}, [],
                       checked_at="t", data_docs=None)  # fmt: skip
    assert ctx["freshness_line"] == (
        "1 of 20040 products changed up to 2026-02-01 00:00 are not processed yet. Judged on "
        "this run's 40 changed products and a random sample of 20,000 of the catalogue's "
        "2,000,000."
    )
