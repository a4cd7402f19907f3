"""Versioned schema migrations for the platform's state schema (``db upgrade``).

Migrations are the numbered ``migrations/NNNN_name.sql`` files of this package, with
``{schema}`` standing for the state schema. ``upgrade`` applies the missing ones in
order, each in its own transaction, under an advisory lock so concurrent callers are safe.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

from enrichment.db.connection import connect

log = logging.getLogger(__name__)
_LOCK_ID = 7_240_001
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every shipped migration, in order."""
    out = []
    for entry in resources.files("enrichment.db.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            out.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def applied(conn, schema: str) -> set[int]:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{schema}.schema_migrations",))
        if cur.fetchone()[0] is None:
            return set()
        cur.execute(f"SELECT version FROM {schema}.schema_migrations")
        return {row[0] for row in cur.fetchall()}


def upgrade(url: str, schema: str) -> list[str]:
    """Apply pending migrations to ``schema``; returns the names applied."""
    done: list[str] = []
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                "version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
            conn.commit()
            have = applied(conn, schema)
            for version, name, sql in available():
                if version in have:
                    continue
                cur.execute(sql.format(schema=schema))
                cur.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, name) VALUES (%s, %s)",
                    (version, name),
                )
                conn.commit()
                log.info("applied migration %s to schema %s", name, schema)
                done.append(name)
        finally:
            conn.rollback()
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
            conn.commit()
    return done
