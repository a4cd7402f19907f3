"""``vector-sinks check`` and ``sync`` against the local Pinecone protocol server."""

from __future__ import annotations

import json

import pytest

from enrichment.cli import vector_sinks
from enrichment.config import ConfigError
from tests.integration.vectors.test_pinecone_sink import (  # noqa: F401 (fixtures)
    cat,
    models,
    run,
    server,
    store,
)
from tests.unit.cli.parser import help_of
from tests.unit.cli.parser import run as run_command


def test_help_lists_check_and_sync(capsys):
    text = help_of(vector_sinks, ["vector-sinks"], capsys)
    assert "check" in text and "sync" in text


def test_without_sinks_the_commands_say_so(monkeypatch):
    monkeypatch.setenv("ENRICHMENT_VECTOR_SINKS", "")
    with pytest.raises(ConfigError, match="ENRICHMENT_VECTOR_SINKS is empty"):
        run_command(vector_sinks, ["vector-sinks", "check"])


@pytest.mark.integration
def test_check_finds_a_gap_and_sync_repairs_it(cat, capsys):  # noqa: F811
    run(cat, "r1")
    assert run_command(vector_sinks, ["vector-sinks", "check"]) == 0
    mirrored = store()
    index = mirrored.active_index("text")
    mirrored.sinks[0].delete([index], ["B"])
    capsys.readouterr()
    assert run_command(vector_sinks, ["vector-sinks", "check"]) == 1
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["ok"], row["pgvector"], row["sink_vectors"]) == (False, 7, 6)
    assert run_command(vector_sinks, ["vector-sinks", "sync"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        index.name: {"pinecone": {"sent": 1, "deleted": 0}}
    }
    assert run_command(vector_sinks, ["vector-sinks", "check"]) == 0
