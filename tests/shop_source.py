"""A shop's catalogue in its own database, read by the platform through a read-only role."""

from __future__ import annotations

import dataclasses
import uuid
from urllib.parse import urlparse, urlunparse

import psycopg2

from enrichment.db import connection as db

READER_GRANTS = """
GRANT CONNECT ON DATABASE {db} TO {role};
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role};
"""


def with_user(url: str, user: str) -> str:
    parts = urlparse(url)
    host = parts.netloc.split("@", 1)[-1]
    return urlunparse(parts._replace(netloc=f"{user}@{host}"))


class ShopSource:
    """Creates the shop database, seeds it, and a role that may only read (and replicate)."""

    def __init__(self, admin_url: str, shop, schema: str = "shop", replication: bool = False):
        self.shop, self.schema = shop, schema
        self.name = f"shop_{uuid.uuid4().hex[:10]}"
        self.role = f"reader_{uuid.uuid4().hex[:8]}"
        self.admin_url = admin_url
        db.ensure_database(admin_url, self.name)
        self.owner_url = db.with_database(admin_url, self.name)
        self.sql(shop.SCHEMA.format(s=schema))
        self.write(shop.seed)
        attrs = "LOGIN REPLICATION" if replication else "LOGIN"
        self.sql(f"CREATE ROLE {self.role} {attrs}")
        self.reader_url = with_user(self.owner_url, self.role)

    def grant_reader(self, *schemas: str) -> None:
        for schema in (self.schema, *schemas):
            self.sql(READER_GRANTS.format(db=self.name, role=self.role, schema=schema))

    def sql(self, query: str, params: tuple = ()) -> list:
        conn = psycopg2.connect(self.owner_url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def write(self, change) -> None:
        """Run one application change in its own transaction, as the shop's owner role."""
        conn = psycopg2.connect(self.owner_url)
        try:
            with conn, conn.cursor() as cur:
                change(cur, self.schema)
        finally:
            conn.close()

    def owner_settings(self, settings):
        return dataclasses.replace(settings, source_database_url=self.owner_url)

    def drop(self) -> None:
        with db.connect(self.admin_url, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = %s",
                (self.name,),
            )
            cur.execute(f"DROP ROLE IF EXISTS {self.role}")
