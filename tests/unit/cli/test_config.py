"""``python -m enrichment config``: the settings in effect and the reference page."""

from __future__ import annotations

import os

import pytest

from enrichment.cli.main import main
from tests.paths import ROOT

pytestmark = pytest.mark.unit


def test_config_lists_the_set_variables_and_hides_secrets(monkeypatch, capsys):
    monkeypatch.setenv("ENRICHMENT_SHARD_SIZE", "250")
    monkeypatch.setenv("ENRICHMENT_ES_PASSWORD", "hunter2")
    monkeypatch.delenv("ENRICHMENT_TAG_SINKS", raising=False)
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "ENRICHMENT_SHARD_SIZE=250" in out
    assert "ENRICHMENT_ES_PASSWORD=***" in out
    assert "hunter2" not in out
    assert "ENRICHMENT_TAG_SINKS" not in out
    assert main(["config", "--all"]) == 0
    assert "ENRICHMENT_TAG_SINKS (default: unset)" in capsys.readouterr().out


def test_config_markdown_prints_docs_configuration_md(capsys):
    assert main(["config", "--markdown"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "configuration.md").read_text()


def test_the_config_command_module_registers_its_options(monkeypatch, capsys):
    from enrichment.cli import config as cli_config
    from tests.unit.cli.parser import help_of, run

    text = help_of(cli_config, ["config"], capsys)
    assert "--markdown" in text and "--all" in text
    monkeypatch.setenv("ENRICHMENT_SHARD_SIZE", "77")
    assert run(cli_config, ["config"]) == 0
    assert "ENRICHMENT_SHARD_SIZE=77" in capsys.readouterr().out


def test_config_names_variables_that_are_not_settings(monkeypatch, capsys):
    from enrichment.config import docs

    declared = {row.name for _, _, rows in docs.sections() for row in rows}
    for name in [n for n in os.environ if n.startswith("ENRICHMENT_") or n in declared]:
        monkeypatch.delenv(name)
    assert main(["config"]) == 0
    assert "no setting is set in the environment" in capsys.readouterr().out
    monkeypatch.setenv("ENRICHMENT_QUALITY_COVERAGE_COLOR", "0.9")  # a taxonomy attribute
    monkeypatch.setenv("ENRICHMENT_QUALITY_COVERAGE_COLOUR", "0.9")  # not one
    monkeypatch.setenv("ENRICHMENT_SHARD_SIZ", "10")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    known, unknown = out.split("# Not a setting")
    assert "ENRICHMENT_QUALITY_COVERAGE_COLOR=0.9" in known
    assert unknown.split() == ["(ignored:", "a", "misspelling?)",
                               "ENRICHMENT_QUALITY_COVERAGE_COLOUR", "ENRICHMENT_SHARD_SIZ"]  # fmt: skip
