"""Run Airflow locally on the embedded PostgreSQL: environment, migrate, dags test, UI.

``migrate`` also imports ``airflow_settings.yaml`` (connections, pools incl. ``gpu_shards``,
variables; Astro CLI format) into the local Airflow.

Airflow's metadata database is the ``airflow`` database of the same embedded server
(or whatever ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` already says).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from enrichment.config import PROJECT_ROOT, ConfigError, Settings, load_settings
from enrichment.config.airflow import AirflowSettings
from enrichment.config.env import environ


def sizing(cpus: int | None = None) -> dict[str, str]:
    """Airflow process and concurrency settings for a machine with ``cpus`` cores.

    LocalExecutor runs up to ``core.parallelism`` worker processes (Airflow's default, 32,
    is meant for a server); here two task processes per core, one API worker, one DAG
    parsing process per two cores.
    """
    cpus = max(1, cpus or os.cpu_count() or 1)
    parallelism = str(max(2, 2 * cpus))
    return {
        "AIRFLOW__CORE__PARALLELISM": parallelism,
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": parallelism,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": str(max(1, cpus // 2)),
    }


def airflow_env(settings: Settings | None = None) -> dict[str, str]:
    """The environment for Airflow commands; existing ``AIRFLOW__*`` values win."""
    from enrichment.db import connection as db

    settings = settings or load_settings()
    env = environ()
    # `airflow standalone` starts its components as `airflow ...` from PATH: use ours
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("AIRFLOW_HOME", str(settings.data_dir / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(PROJECT_ROOT / "plugins"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    for key, value in sizing().items():
        env.setdefault(key, value)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env:
        admin = db.server_url(settings)
        db.ensure_database(admin, "airflow")
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = db.sqlalchemy_url(
            db.with_database(admin, "airflow")
        )
    return env


def airflow(
    args: list[str], env: dict[str, str], *, check: bool = True, capture: bool = False
) -> subprocess.CompletedProcess:
    """Run ``airflow ARGS`` with this interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        check=check,
        text=True,
        capture_output=capture,
    )


def migrate(env: dict[str, str]) -> None:
    airflow(["db", "migrate"], env, capture=True)
    import_settings(env)


def settings_file() -> Path:
    """``airflow_settings.yaml`` (``ENRICHMENT_AIRFLOW_SETTINGS`` overrides the path)."""
    return AirflowSettings.from_env().settings_file or PROJECT_ROOT / "airflow_settings.yaml"


def settings_documents(path: Path) -> dict[str, dict]:
    """An Astro-CLI-style settings file as ``airflow pools|variables|connections import`` JSON."""
    import yaml

    section = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("airflow") or {}
    try:
        pools = {
            p["pool_name"]: {
                "slots": int(p.get("pool_slot", 1)),
                "description": p.get("pool_description") or "",
                "include_deferred": bool(p.get("pool_include_deferred")),
            }
            for p in section.get("pools") or []
        }
        variables = {
            v["variable_name"]: "" if v.get("variable_value") is None else str(v["variable_value"])
            for v in section.get("variables") or []
        }
        connections = {}
        for c in section.get("connections") or []:
            extra = c.get("conn_extra")
            connections[c["conn_id"]] = {
                "conn_type": c["conn_type"],
                "host": c.get("conn_host"),
                "login": c.get("conn_login"),
                "password": c.get("conn_password"),
                "schema": c.get("conn_schema"),
                "port": c.get("conn_port"),
                "extra": json.dumps(extra) if isinstance(extra, dict) else extra,
            }
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{path}: malformed airflow_settings entry ({exc!r}); see the Astro CLI "
            "format (conn_id/conn_type, pool_name/pool_slot, variable_name)"
        ) from exc
    return {"pools": pools, "variables": variables, "connections": connections}


def import_settings(env: dict[str, str], path: Path | None = None) -> bool:
    """Import the settings file into Airflow's metadata DB (pools updated; existing variables
    and connections kept). Skipped when this file was already imported into this DB."""
    path = path or settings_file()
    if not path.exists():
        return False
    digest = hashlib.sha256(
        path.read_bytes() + env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "").encode()
    ).hexdigest()[:16]
    marker = Path(env.get("AIRFLOW_HOME", ".")) / f".airflow-settings-{digest}"
    if marker.exists():
        return False
    documents = settings_documents(path)
    with tempfile.TemporaryDirectory() as tmp:
        for kind, options in (("pools", []), ("variables", ["-a", "skip"]), ("connections", [])):
            if documents[kind]:
                target = Path(tmp) / f"{kind}.json"
                target.write_text(json.dumps(documents[kind]), encoding="utf-8")
                airflow([kind, "import", *options, str(target)], env, capture=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return True


def dags_test(
    dag_id: str, env: dict[str, str], *, conf: str | None = None, quiet: bool = False
) -> subprocess.CompletedProcess:
    """``airflow dags test DAG_ID`` (a real DAG run, tasks in this machine's processes)."""
    args = ["dags", "test", dag_id]
    env = {**env, "ENRICHMENT_AIRFLOW_DEADLINES": "off"}  # dags test cannot run deadlines
    if conf:
        args += ["--conf", conf]
    return airflow(args, env, check=False, capture=quiet)
