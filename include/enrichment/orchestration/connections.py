"""Settings an Airflow connection stands for, from the connection's plain fields.

The Airflow edge (``enrichment_airflow.connections``) looks connections up through the
providers' hooks and passes their fields here; this module knows no Airflow. Each role
gives the ``ENRICHMENT_*`` variables the CLI would read from its environment, so the
library has one way to be configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from enrichment.config import ConfigError

POSTGRES_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options")
ROLE_TYPES = {
    "platform_db": ("postgres", "postgresql"),
    "source_db": ("postgres", "postgresql"),
    "elasticsearch": ("elasticsearch",),
    "pinecone": ("pinecone",),
    "openai": ("openai",),
}


@dataclass(frozen=True)
class ConnectionFields:
    """The fields of one Airflow connection (what ``airflow connections add`` takes)."""

    conn_id: str
    conn_type: str | None
    host: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    port: int | None = None
    schema: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)


def postgres_url(conn: ConnectionFields) -> str:
    """A libpq URL: user, password, host (or socket folder), port, database, SSL extras."""
    user = quote(conn.login or "", safe="")
    if conn.password:
        user += ":" + quote(conn.password, safe="")
    query = {k: str(v) for k, v in conn.extra.items() if k in POSTGRES_EXTRAS}
    host = conn.host or ""
    if host.startswith("/"):
        query["host"], host = host, ""
    netloc = host + (f":{conn.port}" if host and conn.port else "")
    url = f"postgresql://{user + '@' if user else ''}{netloc}/{quote(conn.schema or '', safe='')}"
    return url + (f"?{urlencode(query)}" if query else "")


def role_env(role: str, conn: ConnectionFields) -> dict[str, str]:
    """The ``ENRICHMENT_*`` variables connection ``conn`` gives role ``role``.

    Raises :class:`ConfigError` naming the connection when its type does not fit the role
    or a field the role needs is empty.
    """
    expected = ROLE_TYPES.get(role)
    if expected is None:
        raise ConfigError(f"unknown connection role {role!r}; one of {', '.join(ROLE_TYPES)}")
    kind = (conn.conn_type or "").lower()
    if kind not in expected:
        raise ConfigError(
            f"Airflow connection {conn.conn_id!r} has type {conn.conn_type!r}; "
            f"the {role} role needs a {expected[0]} connection"
        )
    env = _ROLE_BUILDERS[role](conn)
    return {k: str(v) for k, v in env.items() if v not in (None, "")}


def _platform_db(conn: ConnectionFields) -> dict:
    return {"ENRICHMENT_DATABASE_URL": postgres_url(_needs(conn, "schema", "the database"))}


def _source_db(conn: ConnectionFields) -> dict:
    return {"ENRICHMENT_SOURCE_DATABASE_URL": postgres_url(_needs(conn, "schema", "the database"))}


def _elasticsearch(conn: ConnectionFields) -> dict:
    _needs(conn, "host", "the Elasticsearch host")
    host = conn.host or ""
    scheme = (conn.schema or "http").lower()
    if "://" not in host:
        host = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    verify = conn.extra.get("verify_certs")
    return {
        "ENRICHMENT_ES_URL": host,
        "ENRICHMENT_ES_USERNAME": conn.login,
        "ENRICHMENT_ES_PASSWORD": conn.password,
        "ENRICHMENT_ES_API_KEY": conn.extra.get("api_key"),
        "ENRICHMENT_ES_CA_CERTS": conn.extra.get("ca_certs"),
        "ENRICHMENT_ES_VERIFY_CERTS": None if verify is None else str(verify).lower(),
    }


def _pinecone(conn: ConnectionFields) -> dict:
    _needs(conn, "password", "the Pinecone API key")
    return {
        "ENRICHMENT_PINECONE_API_KEY": conn.password,
        "ENRICHMENT_PINECONE_CONTROLLER_HOST": conn.host,
        "ENRICHMENT_PINECONE_HOST": conn.extra.get("index_host"),
        "ENRICHMENT_PINECONE_IMAGE_HOST": conn.extra.get("image_index_host"),
        "ENRICHMENT_PINECONE_INDEX": conn.extra.get("index"),
        "ENRICHMENT_PINECONE_IMAGE_INDEX": conn.extra.get("image_index"),
    }


def _openai(conn: ConnectionFields) -> dict:
    _needs(conn, "password", "the API key")
    return {"ENRICHMENT_OPENAI_API_KEY": conn.password, "ENRICHMENT_OPENAI_BASE_URL": conn.host}


_ROLE_BUILDERS = {
    "platform_db": _platform_db,
    "source_db": _source_db,
    "elasticsearch": _elasticsearch,
    "pinecone": _pinecone,
    "openai": _openai,
}


def _needs(conn: ConnectionFields, name: str, what: str) -> ConnectionFields:
    if not getattr(conn, name):
        raise ConfigError(f"Airflow connection {conn.conn_id!r}: field {name!r} ({what}) is empty")
    return conn
