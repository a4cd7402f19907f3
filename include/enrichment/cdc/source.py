"""The shop's source database: its URL, a read-only connection, and the configured mapping."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg2

from enrichment.cdc.mapping import load_mapping
from enrichment.cdc.mapping_types import SourceMapping
from enrichment.config import ConfigError, Settings
from enrichment.db.connection import database_url


def source_url(settings: Settings) -> str:
    """``ENRICHMENT_SOURCE_DATABASE_URL``, else the platform database (the demo)."""
    return settings.source_database_url or database_url(settings)


def mapping_for(settings: Settings) -> SourceMapping:
    """The configured source mapping (``ENRICHMENT_SOURCE_MAPPING``, default: the demo)."""
    return load_mapping(settings.source_mapping, settings.source_schema)


@contextlib.contextmanager
def source_connection(settings: Settings, *, readonly: bool = True) -> Iterator:
    """A connection to the source; read-only connections see one REPEATABLE READ snapshot."""
    try:
        conn = psycopg2.connect(source_url(settings))
    except psycopg2.OperationalError as exc:
        raise ConfigError(
            f"cannot connect to the source database ({exc}); check ENRICHMENT_SOURCE_DATABASE_URL"
        ) from exc
    try:
        if readonly:
            conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        yield conn
        if readonly:
            conn.rollback()
        else:
            conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
