"""Command ``config``: the settings in effect, or ``docs/configuration.md`` (``--markdown``).

Without options it prints every declared variable that is set, with its value (secrets
shown as ``***``); ``--all`` adds the unset ones with their defaults. ``ENRICHMENT_*``
variables that are not settings (a misspelt name is ignored by every command) are listed
last.
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
    from enrichment.config.env import environ, raw

    if args.markdown:
        sys.stdout.write(docs.markdown())
        return 0
    names, printed = set(), False
    for title, _, rows in docs.sections():
        names.update(row.name for row in rows)
        shown = [(row, raw(row.name)) for row in rows if "<" not in row.name]
        shown = [(row, value) for row, value in shown if value is not None or args.all]
        if not shown:
            continue
        print(f"# {title}")
        printed = True
        for row, value in shown:
            if value is None:
                print(f"{row.name} (default: {row.default or 'unset'})")
            else:
                secret = row.kind == "secret" or "secret" in row.name.lower()
                print(f"{row.name}={'***' if secret else value}")
    variables = environ()
    attributes = _taxonomy_attributes()
    thresholds = {n: v for n, v in variables.items() if _attribute_of(n) in attributes}
    if thresholds:
        print("# Per attribute")
        print("\n".join(f"{n}={v}" for n, v in sorted(thresholds.items())))
        printed = True
    unknown = sorted(
        name
        for name in variables
        if name.startswith("ENRICHMENT_") and name not in names and name not in thresholds
    )
    if unknown:
        print("# Not a setting (ignored: a misspelling?)")
        print("\n".join(unknown))
    elif not printed:
        print("no setting is set in the environment: each has its default (--all lists them)")
    return 0


def _attribute_of(name: str) -> str | None:
    """The attribute a per-attribute quality variable names (``..._COVERAGE_COLOR``)."""
    from enrichment.config.quality import PREFIX, per_attribute

    found = per_attribute(name[len(PREFIX) :]) if name.startswith(PREFIX) else None
    return found[1] if found else None


def _taxonomy_attributes() -> set[str]:
    from enrichment.tagging.taxonomy import Taxonomy

    return {a.id for a in Taxonomy.load().attributes}
