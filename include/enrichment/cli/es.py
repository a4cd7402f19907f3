"""Command ``es-index``: the Elasticsearch tag indexes per taxonomy version (blue/green).

``es-index versions`` lists the version indexes with their state and document counts,
``es-index switch`` moves the read alias to the configured taxonomy's index once it holds
every active SKU, ``es-index drop`` deletes retired indexes (see
:mod:`enrichment.bluegreen.es_indexes`). Connection settings: ``ENRICHMENT_ES_*``.
"""

from __future__ import annotations

import argparse
import json
import sys

from enrichment.cli.main import command_group


def register(sub: argparse._SubParsersAction) -> None:
    esub = command_group(
        sub,
        "es-index",
        help="Elasticsearch tag indexes: versions, switch, drop",
        description="Blue/green of the Elasticsearch tag indexes (one per taxonomy version "
        "behind the read alias ENRICHMENT_ES_INDEX_PREFIX).",
        dest="es_command",
    )
    p = esub.add_parser("versions", help="every version index: state, active documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_versions)
    p = esub.add_parser("switch", help="move the read alias to a complete version index (atomic)")
    p.add_argument("--version", help="taxonomy version (default: the configured taxonomy)")
    p.add_argument("--drop-old", action="store_true", help="drop the retired index after")
    p.set_defaults(func=cmd_switch)
    p = esub.add_parser("drop", help="drop retired version indexes")
    p.add_argument("names", nargs="*", help="index names")
    p.add_argument("--all-retired", action="store_true")
    p.add_argument("--force", action="store_true", help="also drop the building index")
    p.set_defaults(func=cmd_drop)


def _refused(what: str, call) -> int:
    from enrichment.bluegreen.es_indexes import SwitchRefused
    from enrichment.tags.es_bulk import EsWriteError

    try:
        print(json.dumps(call()))
    except SwitchRefused as exc:
        print(f"{what} refused: {exc}", file=sys.stderr)
        return 1
    except EsWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from enrichment.bluegreen.es_indexes import versions
    from enrichment.tags.es_bulk import EsWriteError

    try:
        info = versions()
    except EsWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info))
        return 0
    print(
        f"alias {info['alias']}; {info['expected']} active SKUs in PostgreSQL; configured "
        f"taxonomy index {info['configured_index']}"
    )
    for row in info["indexes"]:
        print(f"{row['state']:<9} {row['index']:<48} documents {row['documents']}")
    return 0


def cmd_switch(args: argparse.Namespace) -> int:
    from enrichment.bluegreen.es_indexes import switch

    return _refused("switch", lambda: switch(version=args.version, drop_old=args.drop_old))


def cmd_drop(args: argparse.Namespace) -> int:
    from enrichment.bluegreen.es_indexes import drop

    if not args.names and not args.all_retired:
        print("error: name indexes to drop, or pass --all-retired", file=sys.stderr)
        return 2
    return _refused(
        "drop", lambda: drop(names=args.names, all_retired=args.all_retired, force=args.force)
    )
