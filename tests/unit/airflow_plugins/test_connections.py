"""Airflow Connections at the edge: looked up through the providers' hooks, in effect
for one task step, never leaking into the next."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.unit

PG = {"conn_type": "postgres", "host": "db.shop", "login": "u", "password": "pw", "schema": "p"}


def _conn(monkeypatch, conn_id: str, fields: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def test_existing_connections_win_for_the_step_and_are_undone_after(monkeypatch):
    from enrichment.config import load_settings
    from enrichment.config.models import OpenAISettings
    from enrichment_airflow.failfast import call

    monkeypatch.setenv("ENRICHMENT_DATABASE_URL", "postgresql://env@elsewhere/env")
    monkeypatch.delenv("ENRICHMENT_OPENAI_API_KEY", raising=False)
    _conn(monkeypatch, "enrichment_platform_db", PG)
    _conn(monkeypatch, "enrichment_source_db", {**PG, "host": "shop-replica", "schema": "shop"})
    _conn(
        monkeypatch,
        "enrichment_openai",
        {"conn_type": "openai", "host": "http://llm:8000/v1", "password": "sk-test-123"},
    )

    def step():
        s = load_settings()
        return s.database_url, s.source_database_url, OpenAISettings.from_env().api_key

    assert call(step) == (
        "postgresql://u:pw@db.shop/p",
        "postgresql://u:pw@shop-replica/shop",
        "sk-test-123",
    )
    assert os.environ["ENRICHMENT_DATABASE_URL"] == "postgresql://env@elsewhere/env"
    assert "ENRICHMENT_OPENAI_API_KEY" not in os.environ


def test_no_connection_leaves_the_environment_alone(monkeypatch):
    from enrichment.config import load_settings
    from enrichment_airflow.failfast import call

    monkeypatch.setenv("ENRICHMENT_DATABASE_URL", "postgresql://env@here/env")
    for role in ("PLATFORM_DB", "SOURCE_DB", "ES", "PINECONE", "OPENAI"):
        monkeypatch.delenv(f"AIRFLOW_CONN_ENRICHMENT_{role}", raising=False)
    assert call(lambda: load_settings().database_url) == "postgresql://env@here/env"


def test_a_role_switched_off_or_renamed(monkeypatch):
    from enrichment_airflow.connections import connection_settings

    _conn(monkeypatch, "enrichment_platform_db", PG)
    _conn(monkeypatch, "shop_es", {"conn_type": "elasticsearch", "host": "es", "port": 9200})
    monkeypatch.setenv("ENRICHMENT_AIRFLOW_CONN_PLATFORM_DB", "none")
    monkeypatch.setenv("ENRICHMENT_AIRFLOW_CONN_ELASTICSEARCH", "shop_es")
    assert connection_settings() == {"shop_es": {"ENRICHMENT_ES_URL": "http://es:9200"}}


def test_a_connection_of_the_wrong_type_fails_the_task_at_once(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from enrichment_airflow.failfast import call

    _conn(monkeypatch, "enrichment_pinecone", {"conn_type": "http", "host": "x"})
    with pytest.raises(AirflowFailException, match="'enrichment_pinecone' has type 'http'"):
        call(lambda: None)


def test_pods_get_the_role_settings_of_listed_connections_but_never_the_shop_database(
    monkeypatch,
):
    from enrichment.orchestration import pods as k8s
    from enrichment_airflow.connections import connection_settings
    from enrichment_airflow.k8s_shards import connection_secrets

    _conn(monkeypatch, "enrichment_platform_db", PG)
    _conn(monkeypatch, "enrichment_source_db", {**PG, "schema": "shop"})
    _conn(monkeypatch, "enrichment_es", {"conn_type": "elasticsearch", "host": "http://es:9200"})
    assert "enrichment_source_db" not in connection_settings(pods=True)
    monkeypatch.setenv("ENRICHMENT_K8S_CONNECTIONS", "enrichment_platform_db,enrichment_es")
    settings = k8s.PodSettings.load(os.environ)
    assert connection_secrets(settings) == {
        "enrichment_platform_db": {"ENRICHMENT_DATABASE_URL": "postgresql://u:pw@db.shop/p"},
        "enrichment_es": {"ENRICHMENT_ES_URL": "http://es:9200"},
    }
