"""Run Airflow locally on the embedded PostgreSQL: environment, migrate, dags test, UI.

Airflow's metadata database is the ``airflow`` database of the same embedded server
(or whatever ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` already says).
"""

from __future__ import annotations

import os
import subprocess
import sys

from enrichment.config import PROJECT_ROOT, Settings, load_settings


def airflow_env(settings: Settings | None = None) -> dict[str, str]:
    """The environment for Airflow commands; existing ``AIRFLOW__*`` values win."""
    from enrichment import db

    settings = settings or load_settings()
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", str(settings.data_dir / "airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT_ROOT / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(PROJECT_ROOT / "plugins"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env:
        admin = db.server_url(settings)
        db.ensure_database(admin, "airflow")
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = db.sqlalchemy_url(
            db.with_database(admin, "airflow"))
    return env


def airflow(args: list[str], env: dict[str, str], *, check: bool = True,
            capture: bool = False) -> subprocess.CompletedProcess:
    """Run ``airflow ARGS`` with this interpreter."""
    return subprocess.run([sys.executable, "-m", "airflow", *args], env=env, check=check,
                          text=True, capture_output=capture)


def migrate(env: dict[str, str]) -> None:
    airflow(["db", "migrate"], env, capture=True)


def dags_test(dag_id: str, env: dict[str, str], *, conf: str | None = None,
              quiet: bool = False) -> subprocess.CompletedProcess:
    """``airflow dags test DAG_ID`` (a real DAG run, tasks in this machine's processes)."""
    args = ["dags", "test", dag_id]
    if conf:
        args += ["--conf", conf]
    return airflow(args, env, check=False, capture=quiet)
