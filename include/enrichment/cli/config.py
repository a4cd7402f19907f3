"""Command ``config``: the settings in effect, or ``docs/configuration.md`` (``--markdown``).

Without options it prints every declared variable that is set, with its value (secrets
shown as ``***``); ``--all`` adds the unset ones with their defaults. ``ENRICHMENT_*`` variables that are
not settings (a misspelt name is ignored by every command) are listed last.
"""

from __future__ import annotations

import argparse
import re
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
    names, patterns, printed = set(), [], False
    for title, _, rows in docs.sections():
        names.update(row.name for row in rows)
        patterns += [_pattern(row.name) for row in rows if "<" in row.name]
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
    family = {n: v for n, v in variables.items() if any(p.fullmatch(n) for p in patterns)}
    attributes = _taxonomy_attributes()
    per_attribute = {n: v for n, v in family.items() if _attribute_of(n) in attributes}
    if per_attribute:
        print("# Per attribute")
        print("\n".join(f"{n}={v}" for n, v in sorted(per_attribute.items())))
        printed = True
    unknown = sorted(
        name
        for name in variables
        if name.startswith("ENRICHMENT_") and name not in names and name not in per_attribute
    )
    if unknown:
        print("# Not a setting (ignored: a misspelling?)")
        print("\n".join(unknown))
    elif not printed:
        print("no setting is set in the environment: each has its default (--all lists them)")
    return 0


def _attribute_of(name: str) -> str:
    """The taxonomy attribute a per-attribute variable names (``..._COVERAGE_COLOR``)."""
    return name.rsplit("_COVERAGE_", 1)[-1].rsplit("_PRECISION_", 1)[-1].lower().replace("_", "-")


def _taxonomy_attributes() -> set[str]:
    from enrichment.tagging.taxonomy import Taxonomy

    return {a.id for a in Taxonomy.load().attributes}


def _pattern(name: str) -> re.Pattern:
    """A documented family of variables (``ENRICHMENT_QUALITY_COVERAGE_<ATTR>``) as a regex."""
    return re.compile(re.sub(r"<[^>]+>", "[A-Z0-9_]+", re.escape(name)))
