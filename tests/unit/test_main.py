"""``python -m enrichment``: the module entry point runs the CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from enrichment import __main__ as entry
from enrichment.cli import main as cli_main
from tests.paths import ROOT

pytestmark = pytest.mark.unit


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "enrichment", *args], capture_output=True, text=True, env=env
    )


def test_the_entry_point_is_the_cli_main():
    assert entry.main is cli_main.main


def test_python_m_enrichment_help_lists_the_command_groups():
    done = _run("--help")
    assert done.returncode == 0, done.stderr
    for command in ("db", "run", "status", "tag-images", "index", "demo", "quality"):
        assert f"    {command} " in done.stdout or f"    {command}\n" in done.stdout


def test_python_m_enrichment_without_a_command_prints_help_and_exits_2():
    done = _run()
    assert done.returncode == 2
    assert "usage: python -m enrichment" in done.stdout
