"""``quality`` and ``report`` commands on a real checked platform state."""

from __future__ import annotations

import pytest

from enrichment.cli import quality
from tests.integration.quality.test_evaluate import quality_base, state  # noqa: F401 (fixtures)
from tests.unit.cli.parser import help_of, run, run_json


def test_help_names_the_options(capsys):
    assert "--no-docs" in help_of(quality, ["quality"], capsys)
    assert "--list" in help_of(quality, ["report"], capsys)


@pytest.mark.integration
def test_quality_json_passes_then_fails_with_exit_1(state, capsys):  # noqa: F811
    code, result = run_json(quality, ["quality", "--json", "--no-docs", "--no-report"], capsys)
    assert code == 0 and result["passed"] is True and result["run_id"] == "r2"
    state.sql("DELETE FROM enrichment.tags WHERE sku = 'A'")
    assert run(quality, ["quality", "--no-docs", "--no-report"]) == 1
    out = capsys.readouterr().out
    assert "Quality of run r2: FAILED" in out and "coverage.any" in out


@pytest.mark.integration
def test_report_list_labels_commit_and_check_times(state, capsys):  # noqa: F811
    assert run(quality, ["quality", "--no-docs"]) == 0
    capsys.readouterr()
    assert run(quality, ["report", "--list"]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert header.split() == ["run", "committed", "last", "checked", "verdict", "report"]
    committed, checked, verdict, path = row.split()
    assert committed <= checked and verdict == "passed" and path.endswith("index.html")
