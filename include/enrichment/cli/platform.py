"""Platform commands: database, change capture, runs, shard processing, status."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from enrichment.cli.main import at_least


def _parse_time(value: str, option: str = "--upper") -> datetime:
    from enrichment.config import ConfigError

    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"{option}: {value!r} is not an ISO 8601 time (e.g. 2026-03-01T06:00:00+00:00)"
        ) from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def cmd_db(args: argparse.Namespace) -> int:
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.db import schema

    settings = load_settings()
    if args.action == "upgrade":
        applied = schema.upgrade(db.database_url(settings), settings.state_schema)
        print(
            f"schema {settings.state_schema}: "
            + (f"applied {', '.join(applied)}" if applied else "up to date")
        )
    elif args.action == "url":
        url = db.database_url(settings)
        print(db.sqlalchemy_url(url) if args.sqlalchemy else url)
    elif args.action == "stop":
        print("stopped" if db.stop_embedded(settings) else "no embedded server running")
    return 0


def cmd_cdc(args: argparse.Namespace) -> int:
    from enrichment.cdc import install as cdc
    from enrichment.config import load_settings

    out = getattr(cdc, args.action)(load_settings(), args.mode)
    print(json.dumps(out, default=str, indent=2))
    return 0 if out.get("ok", True) else 1


def cmd_reconcile(args: argparse.Namespace) -> int:
    from enrichment.orchestration import pipeline
    from enrichment.runs import lifecycle as runs

    upper = datetime.now(UTC)
    summary = pipeline.run_all(
        args.run_id or f"reconcile__{upper.isoformat()}",
        upper,
        kind="backfill",
        selection={"reconcile": True, "reconcile_only": True},
        use_clip=False,
    )
    print(json.dumps(summary, default=str) if args.json else runs.format_summary(summary))
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from enrichment.runs import lifecycle as runs

    upper = _parse_time(args.upper) if args.upper else datetime.now(UTC)
    run = runs.detect(args.run_id, upper, kind=args.kind)
    print(
        json.dumps(
            {"run_id": run["run_id"], "shards": run["shards"], "counts": run["counts"]}, default=str
        )
    )
    return 0


def cmd_process_shard(args: argparse.Namespace) -> int:
    from enrichment.runs.worker import process_shard

    result = process_shard(
        args.run_id, args.shard, force=args.force, use_clip=False if args.no_clip else None
    )
    print(json.dumps(result, default=str))
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
    from enrichment.runs import lifecycle as runs

    summary = runs.commit(args.run_id)
    print(runs.format_summary(summary))
    return 0


def cmd_abandon(args: argparse.Namespace) -> int:
    from enrichment.config import load_settings
    from enrichment.db.connection import database_url
    from enrichment.runs import fencing

    settings = load_settings()
    result = fencing.abandon(
        database_url(settings), settings.state_schema, args.run_id, args.reason
    )
    print(
        f"run {result['run_id']}: {result['previous_status']} -> abandoned "
        "(it can no longer write or commit; its changes are left to newer runs)"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from enrichment.orchestration import pipeline
    from enrichment.runs import lifecycle as runs

    upper = _parse_time(args.upper) if args.upper else datetime.now(UTC)
    summary = pipeline.run_all(
        args.run_id or f"cli__{upper.isoformat()}",
        upper,
        use_clip=False if args.no_clip else None,
        progress=True,
    )
    print(json.dumps(summary, default=str) if args.json else runs.format_summary(summary))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from enrichment.runs.status import platform_status

    status = platform_status()
    if args.json:
        print(json.dumps(status, default=str))
    else:
        for key, value in status.items():
            if key != "last_run":
                print(f"{key:24} {value}")
        if status.get("last_run"):
            from enrichment.runs.lifecycle import format_summary

            print(format_summary(status["last_run"]))
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    from enrichment.orchestration import local_airflow

    env = local_airflow.airflow_env()
    local_airflow.migrate(env)
    if args.action == "env":
        for key in sorted(k for k in env if k.startswith("AIRFLOW")):
            print(f"export {key}={env[key]!r}")
        return 0
    if args.action == "standalone":
        print("Airflow UI: http://localhost:8080 (user and password are printed by Airflow)")
        return local_airflow.airflow(["standalone"], env, check=False).returncode
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="platform database: upgrade schema, print URL, stop server")
    p.add_argument("action", choices=["upgrade", "url", "stop"])
    p.add_argument("--sqlalchemy", action="store_true", help="print the SQLAlchemy URL form")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("cdc", help="install, check or remove change capture in the source")
    p.add_argument("action", choices=["install", "check", "remove"])
    p.add_argument(
        "--mode",
        choices=["triggers", "cursor", "log"],
        help="capture mode (default: ENRICHMENT_CAPTURE_MODE)",
    )
    p.set_defaults(func=cmd_cdc)

    p = sub.add_parser("reconcile", help="delete tags and vectors of SKUs the source no longer has")
    p.add_argument("--run-id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("detect", help="detect the change set of a run and write shard manifests")
    p.add_argument("--run-id", required=True)
    p.add_argument("--upper", help="upper time bound, ISO 8601 (default: now)")
    p.add_argument("--kind", choices=["incremental", "backfill"], default="incremental")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("process-shard", help="tag and embed one shard of a run (the GPU step)")
    p.add_argument("--run-id", required=True)
    p.add_argument("--shard", type=at_least(0), required=True)
    p.add_argument("--force", action="store_true", help="redo a shard that already succeeded")
    p.add_argument("--no-clip", action="store_true", help="tag without the CLIP signal")
    p.set_defaults(func=cmd_process_shard)

    p = sub.add_parser("commit", help="commit a run whose shards all succeeded")
    p.add_argument("--run-id", required=True)
    p.set_defaults(func=cmd_commit)

    p = sub.add_parser(
        "abandon", help="mark a run that will not be finished (it may no longer write or commit)"
    )
    p.add_argument("--run-id", required=True)
    p.add_argument("--reason", help="recorded with the run and shown by status")
    p.set_defaults(func=cmd_abandon)

    p = sub.add_parser("run", help="detect, process every shard and commit, without Airflow")
    p.add_argument("--run-id")
    p.add_argument("--upper", help="upper time bound, ISO 8601 (default: now)")
    p.add_argument("--no-clip", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("airflow", help="local Airflow on the embedded PostgreSQL")
    p.add_argument("action", choices=["migrate", "env", "standalone"])
    p.set_defaults(func=cmd_airflow)

    p = sub.add_parser("status", help="counts of products, tags, vectors, orphans, last run")
    p.add_argument("--json", action="store_true", help="one JSON object (stable contract)")
    p.set_defaults(func=cmd_status)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use python -m enrichment")
