"""The demo's own promises, checked on a seeded catalogue, one day of changes and two runs."""

from __future__ import annotations

import pytest

from enrichment.cdc import install as cdc
from enrichment.db import connection as db
from enrichment.demo import catalog as demo_catalog
from enrichment.demo import run as demo_run
from enrichment.orchestration import pipeline
from enrichment.runs.status import platform_status

pytestmark = pytest.mark.integration


def _now(settings):
    with db.connect(db.database_url(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT clock_timestamp()")
        return cur.fetchone()[0]


def test_a_day_of_changes_is_detected_class_by_class_and_the_checks_pass(platform_db):
    settings = platform_db
    with db.connect(db.database_url(settings)) as conn:
        demo_catalog.seed(conn, products=60, image_root=settings.image_root, seed=4,
                          broken_rate=0)  # fmt: skip
    cdc.install(settings)
    pipeline.run_all("r1", _now(settings), settings=settings, use_clip=False)
    rates = {"price_stock": 0.1, "text": 0.05, "image": 0.05, "new": 0.05,
             "soft_delete": 0.05, "hard_delete": 0.05}  # fmt: skip
    with db.connect(db.database_url(settings)) as conn:
        mutation = demo_catalog.mutate(conn, image_root=settings.image_root, seed=9, rates=rates)
    second = pipeline.run_all("r2", _now(settings), settings=settings, use_clip=False)
    detected = demo_run.detected_skus(settings, "r2")
    assert detected["metadata_only"] == set(mutation["skus"]["price_stock"])
    assert detected["deleted"] == set(mutation["skus"]["soft_delete"]) | set(
        mutation["skus"]["hard_delete"]
    )
    checks = demo_run.demo_checks(platform_status(settings), second, mutation, detected)
    assert all(checks.values()), checks
    # a check that is not kept reads as False
    wrong = {**detected, "metadata_only": set()}
    checks = demo_run.demo_checks(platform_status(settings), second, mutation, wrong)
    assert checks["run 2 detected exactly the SKUs the day changed, each in its class"] is False


def test_reset_platform_starts_the_state_from_nothing(platform_db):
    with db.connect(db.database_url(platform_db)) as conn:
        demo_catalog.create_schema(conn, platform_db.source_schema)
    cdc.install(platform_db)
    pipeline.run_all("r1", _now(platform_db), settings=platform_db, use_clip=False)
    demo_run.reset_platform(platform_db)
    with db.connect(db.database_url(platform_db)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {platform_db.state_schema}.runs")
        assert cur.fetchone()[0] == 0
