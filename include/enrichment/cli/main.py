"""``python -m enrichment``: one argparse program, each concern registers its commands.

A command module exposes ``register(subparsers)``; it adds its sub-parsers and sets
``func`` (called with the parsed args, returns the exit code). Heavy imports happen
inside the command functions so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from enrichment.config import ConfigError
from enrichment.runs.errors import RunError

# Modules that contribute commands, in --help order.
COMMAND_MODULES = [
    "enrichment.cli.platform",
    "enrichment.cli.tagging",
    "enrichment.cli.calibrate",
    "enrichment.cli.vectors",
    "enrichment.cli.vector_sinks",
    "enrichment.cli.es",
    "enrichment.cli.demo",
    "enrichment.cli.quality",
    "enrichment.cli.config",
]


def command_group(
    sub: argparse._SubParsersAction,
    name: str,
    *,
    help: str,
    description: str,
    dest: str,
    metavar: str = "ACTION",
) -> argparse._SubParsersAction:
    """A command with sub-commands (``index fill``...); alone it prints its help, exit 2."""
    parser = sub.add_parser(name, help=help, description=description)
    group = parser.add_subparsers(dest=dest, metavar=metavar)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    return group


def prepare_output(path: Path) -> None:
    """Create the folder of an output file; a clear error naming ``path`` if it cannot be."""
    if path.is_dir():
        raise ConfigError(f"cannot write {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        where = exc.filename or path.parent
        raise ConfigError(f"cannot write {path}: cannot create {where}: {exc.strerror}") from exc
    if not os.access(path.parent, os.W_OK):
        raise ConfigError(f"cannot write {path}: its folder is not writable")


def at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m enrichment",
        description="Catalog enrichment platform: change detection, tagging, embeddings, quality.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except RunError as exc:  # a refused run step: the message says what to do
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
