"""Platform commands: help, a run without Airflow, ``status --json`` and ``db url``."""

from __future__ import annotations

import pytest

from enrichment.cli import platform
from tests.catalog_fixture import Catalog
from tests.unit.cli.parser import help_of, run, run_json


def test_help_lists_the_platform_commands(capsys):
    text = help_of(platform, [], capsys)
    for command in ("db", "cdc", "detect", "process-shard", "commit", "run", "status"):
        assert command in text
    assert "{upgrade,url,stop}" in help_of(platform, ["db"], capsys)


@pytest.mark.integration
def test_status_of_a_fresh_state_then_after_a_run(platform_db, capsys):
    cat = Catalog(platform_db)
    code, status = run_json(platform, ["status", "--json"], capsys)
    assert code == 0
    assert (status["products_active"], status["tagged_active"], status["last_run"]) == (0, 0, None)
    cat.add("A", "Classic cotton tee", "red")
    cat.add("B", "Summer dress", "blue", category="Dresses")
    code, summary = run_json(platform, ["run", "--run-id", "r1", "--no-clip", "--json"], capsys)
    assert code == 0 and summary["run_id"] == "r1" and summary["changes"] == {"new": 2}
    _, status = run_json(platform, ["status", "--json"], capsys)
    assert status["products_active"] == status["tagged_active"] == 2
    assert status["orphan_tags"] == 0 and status["last_run"]["run_id"] == "r1"
    assert run(platform, ["db", "url"]) == 0
    assert capsys.readouterr().out.strip().startswith("postgresql")
