"""The report templates (templates/*.html.j2) render a run's view into escaped HTML."""

from __future__ import annotations

import re

import pytest

from enrichment.quality.report import view
from enrichment.quality.report.pages import render

pytestmark = pytest.mark.unit


def _view(description: str) -> dict:
    check = {"name": "coverage.any", "category": "coverage", "outcome": "fail",
             "description": description, "observed_text": "90.00 % (9 of 10 SKUs)",
             "threshold_text": "≥ 98.00 %"}  # fmt: skip
    return view.context(
        {"run_id": "manual__2026-02-01", "kind": "incremental", "upper": "2026-02-01"},
        [check], {"active_skus": 10, "coverage_any": 0.9}, {}, [],
        checked_at="2026-02-01T01:00:00+00:00", data_docs="data_docs/index.html",
    )  # fmt: skip


def test_the_report_shows_the_verdict_the_failure_and_escapes_text():
    html = render("report.html.j2", _view('Tagged <script>alert("x")</script>'))
    assert "<title>Quality report - manual__2026-02-01</title>" in html
    assert "FAILED" in html and "90.00 % (9 of 10 SKUs)" in html and "≥ 98.00 %" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert 'href="data_docs/index.html"' in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_the_index_lists_runs_and_latest_forwards_to_the_newest():
    runs = [{"href": "r2/index.html", "run_id": "r2", "committed_at": "2026-02-01",
             "passed": True, "failed": 0, "active": 10, "coverage": "100 %",
             "quarantine": "0 %"}]  # fmt: skip
    index = render("index.html.j2", {"runs": runs})
    assert "1 run(s), newest first" in index and '<a href="r2/index.html">r2</a>' in index
    latest = render("latest.html.j2", {"href": "../r2/index.html", "run_id": "r2"})
    assert 'content="0; url=../r2/index.html"' in latest
