"""Run one command module's commands the way ``python -m enrichment`` does."""

from __future__ import annotations

import argparse
import json
from types import ModuleType


def run(module: ModuleType, argv: list[str]) -> int:
    """Parse ``argv`` with only ``module``'s commands registered and run the command."""
    parser = argparse.ArgumentParser(prog="python -m enrichment")
    module.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def run_json(module: ModuleType, argv: list[str], capsys) -> tuple[int, object]:
    capsys.readouterr()
    code = run(module, argv)
    return code, json.loads(capsys.readouterr().out)


def help_of(module: ModuleType, argv: list[str], capsys) -> str:
    capsys.readouterr()
    try:
        run(module, [*argv, "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    return capsys.readouterr().out
