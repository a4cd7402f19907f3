"""Command ``config``: the settings in effect, or ``docs/configuration.md`` (``--markdown``).

Without options it prints every declared variable that is set, with its value (secrets
shown as ``***``); ``--all`` adds the unset ones with their defaults.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="settings in effect, or the configuration reference (--markdown)",
        description="Every ENRICHMENT_* setting, declared in enrichment.config.",
    )
    p.add_argument("--markdown", action="store_true", help="print docs/configuration.md")
    p.add_argument("--all", action="store_true", help="also list unset variables")
    p.set_defaults(func=cmd_config)


def cmd_config(args) -> int:
    from enrichment.config import docs
    from enrichment.config.env import raw

    if args.markdown:
        sys.stdout.write(docs.markdown())
        return 0
    for title, _, rows in docs.sections():
        shown = [(row, raw(row.name)) for row in rows if "<" not in row.name]
        shown = [(row, value) for row, value in shown if value is not None or args.all]
        if not shown:
            continue
        print(f"# {title}")
        for row, value in shown:
            if value is None:
                print(f"{row.name} (default: {row.default or 'unset'})")
            else:
                secret = row.kind == "secret" or "secret" in row.name.lower()
                print(f"{row.name}={'***' if secret else value}")
    return 0
