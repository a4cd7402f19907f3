"""Connection fields -> the ENRICHMENT_* settings of each role."""

from __future__ import annotations

import os

import pytest

from enrichment.config import ConfigError
from enrichment.orchestration.connections import ConnectionFields, postgres_url, role_env


def test_postgres_keeps_ssl_extras_and_quotes_credentials():
    conn = ConnectionFields(
        "enrichment_db",
        "postgres",
        host="db.shop.example",
        login="us@r",
        password="p/w:1",
        port=5433,
        schema="shop",
        extra={"sslmode": "require", "application_name": "ignored"},
    )
    assert role_env("platform_db", conn) == {
        "ENRICHMENT_DATABASE_URL": "postgresql://us%40r:p%2Fw%3A1@db.shop.example:5433/shop"
        "?sslmode=require"
    }
    assert role_env("source_db", conn) == {"ENRICHMENT_SOURCE_DATABASE_URL": postgres_url(conn)}


def test_postgres_socket_folder_goes_to_the_host_parameter():
    conn = ConnectionFields("db", "postgres", host="/run/pg", login="postgres", schema="x")
    assert postgres_url(conn) == "postgresql://postgres@/x?host=%2Frun%2Fpg"


def test_elasticsearch_url_from_scheme_host_port_and_auth_from_fields_or_extra():
    conn = ConnectionFields(
        "enrichment_es",
        "elasticsearch",
        host="es.local",
        port=9243,
        schema="https",
        login="elastic",
        password="pw",
        extra={"api_key": "k1", "verify_certs": False, "ca_certs": "/etc/ca.pem"},
    )
    assert role_env("elasticsearch", conn) == {
        "ENRICHMENT_ES_URL": "https://es.local:9243",
        "ENRICHMENT_ES_USERNAME": "elastic",
        "ENRICHMENT_ES_PASSWORD": "pw",
        "ENRICHMENT_ES_API_KEY": "k1",
        "ENRICHMENT_ES_CA_CERTS": "/etc/ca.pem",
        "ENRICHMENT_ES_VERIFY_CERTS": "false",
    }
    full = ConnectionFields("es", "elasticsearch", host="http://es:9200")
    assert role_env("elasticsearch", full) == {"ENRICHMENT_ES_URL": "http://es:9200"}


def test_pinecone_and_openai():
    pc = ConnectionFields(
        "enrichment_pinecone",
        "pinecone",
        host="http://localhost:5080",
        password="pk",
        extra={"index_host": "http://localhost:5081", "index": "products-{dim}"},
    )
    assert role_env("pinecone", pc) == {
        "ENRICHMENT_PINECONE_API_KEY": "pk",
        "ENRICHMENT_PINECONE_CONTROLLER_HOST": "http://localhost:5080",
        "ENRICHMENT_PINECONE_HOST": "http://localhost:5081",
        "ENRICHMENT_PINECONE_INDEX": "products-{dim}",
    }
    oa = ConnectionFields("enrichment_openai", "openai", host="http://llm:8000/v1", password="sk")
    assert role_env("openai", oa) == {
        "ENRICHMENT_OPENAI_API_KEY": "sk",
        "ENRICHMENT_OPENAI_BASE_URL": "http://llm:8000/v1",
    }


def test_wrong_type_and_missing_fields_name_the_connection():
    with pytest.raises(ConfigError, match="'enrichment_es' has type 'http'.*elasticsearch"):
        role_env("elasticsearch", ConnectionFields("enrichment_es", "http", host="x"))
    with pytest.raises(ConfigError, match="'enrichment_db': field 'schema'"):
        role_env("platform_db", ConnectionFields("enrichment_db", "postgres", host="h"))
    with pytest.raises(ConfigError, match="'p': field 'password'"):
        role_env("pinecone", ConnectionFields("p", "pinecone"))
    with pytest.raises(ConfigError, match="unknown connection role 'redis'"):
        role_env("redis", ConnectionFields("r", "redis"))


def test_secrets_stay_out_of_the_repr():
    conn = ConnectionFields("c", "postgres", password="hunter2", extra={"api_key": "k9"})
    assert "hunter2" not in repr(conn) and "k9" not in repr(conn)


def test_the_local_settings_file_never_redirects_the_tasks(monkeypatch):
    """`airflow_settings.yaml` (imported by `make airflow` and the demo) defines the pods'
    throwaway connections; none of them may be a role connection, or every task of the
    local Airflow would read its database from a server that is not there."""
    from enrichment.config.airflow import AirflowSettings
    from enrichment.orchestration.local_airflow import settings_documents
    from tests.paths import ROOT

    for name in [n for n in os.environ if n.startswith("ENRICHMENT_AIRFLOW_")]:
        monkeypatch.delenv(name)
    local = set(settings_documents(ROOT / "airflow_settings.yaml")["connections"])
    roles = AirflowSettings.from_env().connection_ids()
    assert local and not local & set(roles.values()), (local, roles)
