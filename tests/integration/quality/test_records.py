"""A stored quality evaluation reads back as it was recorded."""

from __future__ import annotations

import pytest

from enrichment.quality import records
from enrichment.quality.results import CheckResult, QualityResult
from tests.integration.quality.test_evaluate import quality_base, state  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def test_record_then_read_back_the_latest_result(state):  # noqa: F811
    assert records.recorded_result("r2", settings=state.settings) is None  # only r1 checked
    check = CheckResult("coverage.any", "coverage", "", "error", "fail", 0.9,
                        "90.00 % (9 of 10 SKUs)", "≥ 98.00 %", {"n": 9, "of": 10}, 0.98)  # fmt: skip
    result = QualityResult(
        "r2", [check], "2026-02-01T00:00:00+00:00", seconds=1.5,
        metrics={"coverage_any": 0.9}, report_data={"descriptions": {"coverage.any": "Tagged"}},
    )  # fmt: skip
    records.record_result(state.url, "enrichment", result, snapshot=True)
    back = records.recorded_result(settings=state.settings)  # the latest committed run
    assert back.run_id == "r2" and not back.passed
    assert back.metrics == {"coverage_any": 0.9} and back.seconds == 1.5
    (c,) = back.checks
    assert (c.name, c.outcome, c.observed_text, c.description) == (
        "coverage.any", "fail", "90.00 % (9 of 10 SKUs)", "Tagged",
    )  # fmt: skip
    assert c.detail == {"n": 9, "of": 10}
    snap = state.sql("SELECT count(*) FROM enrichment.tag_distributions WHERE run_id = 'r2'")
    assert snap[0][0] > 0  # snapshot: the next run's drift baseline
