"""Shared fixtures: one embedded PostgreSQL per test session, a fresh database per test.

Settings for the platform and for Airflow are put in the environment here, before any
test imports Airflow, so tests never touch the project's own ``.data`` folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="enrichment-tests-"))
_SESSION_DIR.chmod(0o755)
os.environ["ENRICHMENT_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ.pop("ENRICHMENT_DATABASE_URL", None)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")


def _server_url() -> str:
    from enrichment.config import load_settings
    from enrichment.db import connection as db

    return db.server_url(load_settings())


def pytest_configure(config) -> None:
    from enrichment.db import connection as db

    url = db.with_database(_server_url(), "airflow")
    db.ensure_database(_server_url(), "airflow")
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = db.sqlalchemy_url(url)


def pytest_sessionfinish(session, exitstatus) -> None:
    from enrichment.config import load_settings
    from enrichment.db import connection as db

    if "airflow.settings" in sys.modules:  # close Airflow's pool before its server stops
        sys.modules["airflow.settings"].dispose_orm()
    try:
        db.stop_embedded(load_settings())
    finally:
        shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture
def platform_db(monkeypatch, tmp_path):
    """A fresh database with the platform schema; the environment points at it."""
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.db import schema

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = _server_url()
    db.ensure_database(admin, name)
    url = db.with_database(admin, name)
    monkeypatch.setenv("ENRICHMENT_DATABASE_URL", url)
    monkeypatch.setenv("ENRICHMENT_SHARD_STORE", str(tmp_path / "shards"))
    monkeypatch.setenv("ENRICHMENT_IMAGE_ROOT", str(tmp_path / "images"))
    (tmp_path / "images").mkdir()
    settings = load_settings()
    schema.upgrade(url, settings.state_schema)
    yield settings
    with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database, migrated once per session."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True
    )
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
