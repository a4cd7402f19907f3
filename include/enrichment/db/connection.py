"""Database access: the embedded PostgreSQL (pgserver) or an existing server.

With ``ENRICHMENT_DATABASE_URL`` unset, a real PostgreSQL 16 with pgvector is started
from ``$ENRICHMENT_DATA_DIR/pg`` (it keeps running for other processes; stop it with
``python -m enrichment db stop``). All connections are psycopg2.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import psycopg2
import psycopg2.extras

from enrichment.config import ConfigError, Settings, load_settings

log = logging.getLogger(__name__)


def _embedded_server(settings: Settings):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        logging.getLogger("pgserver").setLevel(logging.WARNING)

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(settings.data_dir))
        return pgserver.get_server(settings.pg_dir, cleanup_mode=None)


def with_database(url: str, database: str) -> str:
    """Return ``url`` pointing at another database on the same server."""
    parts = urlparse(url)
    return urlunparse(parts._replace(path="/" + database))


def server_url(settings: Settings | None = None) -> str:
    """URL of the server's maintenance database (``postgres``), starting it if embedded."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    return _embedded_server(settings).get_uri("postgres")


def database_url(settings: Settings | None = None) -> str:
    """URL of the platform database, creating it on the embedded server when missing."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    url = with_database(server_url(settings), settings.database_name)
    ensure_database(server_url(settings), settings.database_name)
    return url


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` when it does not exist (idempotent)."""
    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
                    cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy form (``postgresql+psycopg2://``) of a libpq URL, socket host kept."""
    parts = urlparse(url)
    netloc = parts.netloc.replace(":@", "@")  # empty password
    return urlunparse(parts._replace(scheme="postgresql+psycopg2", netloc=netloc))


@contextlib.contextmanager
def connect(url: str | None = None, *, autocommit: bool = False) -> Iterator:
    """A psycopg2 connection; commits on success, rolls back on error, always closes."""
    try:
        conn = psycopg2.connect(url or database_url())
    except psycopg2.OperationalError as exc:
        raise ConfigError(
            f"cannot connect to the platform database ({exc}). Check ENRICHMENT_DATABASE_URL, "
            "or unset it to use the embedded PostgreSQL in ENRICHMENT_DATA_DIR"
        ) from exc
    conn.autocommit = autocommit
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        if not autocommit:
            conn.rollback()
        raise
    finally:
        conn.close()


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server if it runs; returns whether one was stopped."""
    settings = settings or load_settings()
    if settings.database_url or not (settings.pg_dir / "postmaster.pid").exists():
        return False
    server = _embedded_server(settings)
    server.cleanup_mode = "stop"
    server.cleanup()
    return True


def dict_cursor(conn):
    """A cursor that returns rows as dicts."""
    return conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
