"""Reading GX results into check results, and the messages users see for them."""

from __future__ import annotations

import pytest

from enrichment.quality import checks as qc
from enrichment.quality import results as qr

pytestmark = pytest.mark.unit


def _spec(kind: str = "min_ratio", severity: str = "error") -> qc.CheckSpec:
    return qc.CheckSpec(
        "coverage.color", "coverage", "Colour tagged", kind, "ExpectColumnMeanToBeBetween",
        {}, 0.85, severity=severity,
    )  # fmt: skip


def test_a_ratio_check_shows_observed_counts_and_threshold():
    raw = {"error": None, "success": False, "result": {"observed_value": 0.8}}
    r = qr.to_check_result(_spec(), raw, counts={"n": 8, "of": 10})
    assert r.outcome == "fail" and r.observed == 0.8
    assert r.line() == (
        "coverage.color: observed 80.00 % (8 of 10 SKUs), threshold ≥ 85.00 % [FAIL]"
    )


def test_a_row_check_names_sample_skus_and_a_warning_does_not_fail():
    spec = qc.CheckSpec("consistency.orphan_tags", "consistency", "Orphans", "no_rows",
                        "ExpectColumnValuesToBeNull", {}, severity="warning")  # fmt: skip
    raw = {
        "error": None,
        "success": False,
        "result": {
            "unexpected_count": 2,
            "element_count": 10,
            "partial_unexpected_index_list": [{"sku": "E"}, {"sku": "F"}, {"sku": "E"}],
        },
    }
    r = qr.to_check_result(spec, raw)
    assert r.outcome == "warn" and r.threshold_text == "0 SKUs"
    assert r.observed_text == "2 of 10 SKUs failing (e.g. E, F)"
    result = qr.QualityResult("r1", [r], checked_at="2026-01-01T00:00:00+00:00")
    assert result.passed and result.warnings == [r]
    result.raise_for_failures()  # warnings never raise


def test_failures_raise_with_every_failed_check_in_the_message():
    bad = qr.to_check_result(_spec(), {"error": "relation missing", "success": False, "result": {}})
    missing = qr.to_check_result(_spec(kind="max_ratio"), None)
    ok = qr.to_check_result(_spec(), {"error": None, "success": True,
                                      "result": {"observed_value": 0.9}})  # fmt: skip
    assert bad.observed_text == "error: relation missing"
    assert missing.observed_text == "not evaluated" and missing.threshold_text == "≤ 85.00 %"
    result = qr.QualityResult("r7", [bad, missing, ok], "t", report_path="/r/index.html")
    assert not result.passed and len(result.failed) == 2
    with pytest.raises(qr.QualityFailed) as info:
        result.raise_for_failures()
    message = str(info.value)
    assert message.startswith("2 quality check(s) failed for run r7:")
    assert "report: /r/index.html" in message and info.value.result is result
    data = result.to_json()
    assert (data["passed"], data["failed"], data["report"]) == (False, 2, "/r/index.html")


def test_summary_text_lists_categories_failures_and_skips():
    ok = qr.to_check_result(_spec(), {"error": None, "success": True,
                                      "result": {"observed_value": 0.9}})  # fmt: skip
    skip = qr.skipped(qc.freshness_checks()[0], "no committed incremental run")
    result = qr.QualityResult("r2", [ok, skip], "t", seconds=1.23)
    text = qr.quality_summary_text(result)
    assert text.splitlines()[0] == (
        "Quality of run r2: PASSED - 2 checks, 0 failed, 0 warnings, 1 skipped (1.2 s)"
    )
    assert "coverage     color 90.00 % ok" in text and "skip" in text
    assert qr.quality_summary_text(qr.QualityResult(None, [], "t", note="no run yet")) == (
        "Quality: no run yet"
    )
