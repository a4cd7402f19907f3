"""A throw-away database for one benchmark, with the platform schema migrated.

Uses the server of ``ENRICHMENT_DATABASE_URL`` when set, otherwise an embedded
PostgreSQL in a temporary folder (stopped and removed afterwards).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "include"))


@contextmanager
def scratch_database(prefix: str, *, state_schema: str = "enrichment") -> Iterator[str]:
    """Yield the URL of a fresh database (platform schema migrated); drop it after.

    ``ENRICHMENT_DATABASE_URL`` points at it for the block, so ``load_settings()`` inside
    sees it.
    """
    tmp = None
    if not os.environ.get("ENRICHMENT_DATABASE_URL"):
        tmp = tempfile.mkdtemp(prefix=f"bench-{prefix}-")
        os.chmod(tmp, 0o755)  # the embedded server may run as its own system user
        os.environ["ENRICHMENT_DATA_DIR"] = os.path.join(tmp, "data")
    from enrichment.config import load_settings
    from enrichment.db import connection as db
    from enrichment.db import schema

    settings = load_settings()
    admin = db.server_url(settings)
    name = f"bench_{prefix.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    db.ensure_database(admin, name)
    url = db.with_database(admin, name)
    before = os.environ.get("ENRICHMENT_DATABASE_URL")
    os.environ["ENRICHMENT_DATABASE_URL"] = url
    try:
        schema.upgrade(url, state_schema)
        yield url
    finally:
        with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if before is None:
            os.environ.pop("ENRICHMENT_DATABASE_URL", None)
        else:
            os.environ["ENRICHMENT_DATABASE_URL"] = before
        if tmp:
            db.stop_embedded(settings)
            shutil.rmtree(tmp, ignore_errors=True)
