"""The shipped schema migrations: numbered without gaps, each for the state schema."""

from __future__ import annotations

from importlib import resources

import pytest

from enrichment.db import migrations, schema

pytestmark = pytest.mark.unit


def test_every_sql_file_of_the_package_is_a_migration_numbered_in_order():
    files = sorted(e.name for e in resources.files(migrations).iterdir() if e.name.endswith(".sql"))
    shipped = schema.available()
    assert [name for _, name, _ in shipped] == files
    assert [version for version, _, _ in shipped] == list(range(1, len(files) + 1))
    assert all("{schema}." in sql for _, _, sql in shipped)
