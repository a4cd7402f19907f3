"""Credentials from Airflow Connections: the platform and source databases,
Elasticsearch, Pinecone and the OpenAI-compatible API.

Each role has a connection id (``ENRICHMENT_AIRFLOW_CONN_*``, docs/airflow.md). During a
task step, a connection that exists wins over the worker's environment variable; one that
does not exist leaves the environment as it is (the CLI and plain deployments keep using
``ENRICHMENT_*`` variables). Connections are looked up through the providers' hooks; the
library reads the resulting ``ENRICHMENT_*`` settings and never imports Airflow.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from enrichment.config import ConfigError
from enrichment.config.airflow import AirflowSettings
from enrichment.orchestration.connections import ConnectionFields, role_env

log = logging.getLogger(__name__)


def _hook_connection(role: str, conn_id: str):
    """The connection, fetched by the provider hook of the role's connection type."""
    if role in ("platform_db", "source_db"):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=conn_id).get_connection(conn_id)
    if role == "elasticsearch":
        from airflow.providers.elasticsearch.hooks.elasticsearch import ElasticsearchSQLHook

        return ElasticsearchSQLHook(elasticsearch_conn_id=conn_id).get_connection(conn_id)
    if role == "pinecone":
        from airflow.providers.pinecone.hooks.pinecone import PineconeHook

        return PineconeHook(conn_id=conn_id).conn
    from airflow.providers.openai.hooks.openai import OpenAIHook

    return OpenAIHook(conn_id=conn_id).get_connection(conn_id)


def connection_fields(conn) -> ConnectionFields:
    """An Airflow connection's fields as the library takes them."""
    return ConnectionFields(
        conn.conn_id,
        conn.conn_type,
        host=conn.host,
        login=conn.login,
        password=conn.password,
        port=conn.port,
        schema=conn.schema,
        extra=conn.extra_dejson or {},
    )


def _fields(role: str, conn) -> ConnectionFields:
    extra = conn.extra_dejson or {}
    if role == "openai":  # the hook's own rules: extra openai_client_kwargs win over fields
        kwargs = extra.get("openai_client_kwargs") or {}
        if extra.get("auth_type", "api_key") != "api_key":
            raise ConfigError(
                f"Airflow connection {conn.conn_id!r}: auth_type {extra['auth_type']!r} is "
                "not supported for embeddings; use an API key (auth_type api_key)"
            )
        return ConnectionFields(
            conn.conn_id,
            conn.conn_type,
            host=kwargs.get("base_url") or conn.host,
            password=kwargs.get("api_key") or conn.password,
        )
    return connection_fields(conn)


def connection_settings(
    settings: AirflowSettings | None = None, *, pods: bool = False
) -> dict[str, dict[str, str]]:
    """``{conn_id: {ENRICHMENT_*: value}}`` for every role whose connection exists
    (``pods``: the roles shard pods use; they never read the shop's database)."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    settings = settings or AirflowSettings.from_env()
    out: dict[str, dict[str, str]] = {}
    for role, conn_id in settings.connection_ids().items():
        if pods and role == "source_db":
            continue
        try:
            conn = _hook_connection(role, conn_id)
        except AirflowNotFoundException:
            continue
        env = role_env(role, _fields(role, conn))
        out.setdefault(conn_id, {}).update(env)
        log.info("%s from Airflow connection %r: %s", role, conn_id, ", ".join(sorted(env)))
    return out


@contextmanager
def connection_environment() -> Iterator[dict[str, str]]:
    """Put the connections' settings into this task's environment for the block."""
    env = {k: v for values in connection_settings().values() for k, v in values.items()}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
