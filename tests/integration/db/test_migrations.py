"""Migrations applied to a fresh database: all once, then nothing."""

from __future__ import annotations

import uuid

import pytest

from enrichment.db import connection as db
from enrichment.db import migrations, schema

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_url():
    admin = db.server_url()
    name = f"m_{uuid.uuid4().hex[:10]}"
    db.ensure_database(admin, name)
    yield db.with_database(admin, name)
    with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_applies_every_migration_once(empty_url):
    assert migrations.__name__ == "enrichment.db.migrations"
    names = [name for _, name, _ in schema.available()]
    assert schema.upgrade(empty_url, "st") == names
    assert schema.upgrade(empty_url, "st") == []
    with db.connect(empty_url) as conn:
        assert schema.applied(conn, "st") == set(range(1, len(names) + 1))
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('st.quarantine'), to_regclass('st.image_embeddings')")
            assert None not in cur.fetchone()
