"""Commands ``vector-sinks check`` and ``vector-sinks sync`` (see :mod:`enrichment.vectors.mirror`).

``check`` compares every index version's copy in each sink (``ENRICHMENT_VECTOR_SINKS``,
e.g. a Pinecone namespace per version) with pgvector: vectors held, dimension, the
active-version marker; exit 1 when something differs. ``sync`` repairs: it sends what a
sink lacks (``--all``: everything, which also refreshes metadata), deletes what pgvector
does not hold, and points the marker at the active versions.
"""

from __future__ import annotations

import argparse
import json

from enrichment.cli.main import command_group
from enrichment.config import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    tsub = command_group(
        sub,
        "vector-sinks",
        help="production vector stores that mirror pgvector: check, sync",
        description="Vector sinks (ENRICHMENT_VECTOR_SINKS, e.g. pinecone) mirror every "
        "pgvector write; check compares them with pgvector, sync repairs them.",
        dest="sinks_command",
    )
    p = tsub.add_parser("check", help="vectors per version in each sink vs pgvector (JSON)")
    p.set_defaults(func=cmd_check)
    p = tsub.add_parser("sync", help="send missing vectors, delete extra ones, set the marker")
    p.add_argument("--name", action="append", help="index version(s) (default: not retired)")
    p.add_argument("--all", action="store_true", help="re-send every vector (refresh metadata)")
    p.set_defaults(func=cmd_sync)


def _mirror():
    from enrichment.config import load_settings
    from enrichment.db.connection import database_url
    from enrichment.vectors.factory import vector_store_from_settings

    store = vector_store_from_settings(load_settings(), database_url(load_settings()))
    if not getattr(store, "sinks", None):
        raise ConfigError("ENRICHMENT_VECTOR_SINKS is empty: no vector sink to check or sync")
    return store


def cmd_check(args: argparse.Namespace) -> int:
    from enrichment.vectors.mirror import sink_report

    rows = sink_report(_mirror())
    print(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


def cmd_sync(args: argparse.Namespace) -> int:
    from enrichment.vectors.mirror import resync

    store = _mirror()
    versions = {i.name: i for i in store.primary.indexes()}
    names = args.name or [n for n, i in versions.items() if i.state != "retired"]
    unknown = [n for n in names if n not in versions]
    if unknown:
        raise ConfigError(f"no index version {', '.join(unknown)} (see `index versions`)")
    out = {}
    for name in names:
        index = versions[name]
        for sink in store.sinks:
            sink.check_version(index.kind, index.dim)
        out[name] = resync(store, index, everything=args.all)
        if index.state == "active":
            store.switched(index.kind, name, [])
    print(json.dumps(out, indent=2))
    return 0
