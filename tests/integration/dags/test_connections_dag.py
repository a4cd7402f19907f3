"""A DAG run whose platform database comes from an Airflow Connection only: the worker's
environment points at a database that does not exist, so any step that bypassed the
connection would fail."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from enrichment.runs.status import platform_status
from tests.catalog_fixture import Catalog
from tests.integration.dags.test_dag_e2e import _dag, _states

pytestmark = pytest.mark.integration


def _as_connection(url: str) -> str:
    parts = urlparse(url)
    host = parse_qs(parts.query).get("host", [parts.hostname])[0]
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": host,
            "port": parts.port,
            "login": parts.username,
            "password": parts.password,
            "schema": parts.path.lstrip("/"),
        }
    )


def test_incremental_run_uses_the_platform_database_connection(
    platform_db, airflow_db, monkeypatch
):
    cat = Catalog(platform_db)
    cat.add("A", "Red cotton tee", "red")
    cat.add("B", "Blue summer dress", "blue", category="Dresses")
    url = platform_db.database_url
    monkeypatch.setenv("AIRFLOW_CONN_ENRICHMENT_PLATFORM_DB", _as_connection(url))
    wrong = urlparse(url)._replace(path="/no_such_database").geturl()
    monkeypatch.setenv("ENRICHMENT_DATABASE_URL", wrong)

    run = _dag("catalog_incremental").test(run_after=cat.now())
    assert str(run.state) == "success", _states(run)
    status = platform_status(platform_db)
    assert (status["tagged_active"], status["vectors_active"]) == (2, 2)
    assert status["last_run"]["changes"] == {"new": 2}

    # the same run with the role switched off reads the (wrong) environment and fails
    monkeypatch.setenv("ENRICHMENT_AIRFLOW_CONN_PLATFORM_DB", "none")
    run = _dag("catalog_incremental").test(run_after=cat.now())
    assert str(run.state) == "failed"
    assert _states(run)["detect"] == "failed"
