"""``es-index`` commands against the local Elasticsearch protocol server."""

from __future__ import annotations

import pytest

from enrichment.cli import es as cli_es
from enrichment.orchestration import pipeline
from tests.integration.tags.test_es_sink import ALIAS, catalog, es  # noqa: F401 (fixtures)
from tests.unit.cli.parser import help_of, run, run_json


def test_help_lists_versions_switch_and_drop(capsys):
    text = help_of(cli_es, ["es-index"], capsys)
    assert all(command in text for command in ("versions", "switch", "drop"))


@pytest.mark.integration
def test_versions_then_refused_switch_and_drop(catalog, capsys):  # noqa: F811
    pipeline.run_all("r1", catalog.now(), settings=catalog.settings, use_clip=False)
    code, info = run_json(cli_es, ["es-index", "versions", "--json"], capsys)
    assert code == 0 and info["alias"] == ALIAS
    assert [(r["state"], r["documents"]) for r in info["indexes"]] == [("active", 5)]
    assert run(cli_es, ["es-index", "switch"]) == 1
    assert "switch refused" in capsys.readouterr().err
    assert run(cli_es, ["es-index", "drop"]) == 2
    assert "--all-retired" in capsys.readouterr().err
