"""Airflow's own backfill of ``catalog_incremental`` under a real scheduler.

``airflow backfill create`` over two past days, with a real API server (execution API)
and scheduler running tasks through the LocalExecutor: each backfill run processes the
late-arriving product stamped inside its day and leaves the watermark alone.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from enrichment.orchestration import pipeline
from tests.airflow_servers import airflow, running_airflow
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration
DAG_ID = "catalog_incremental"
TIMEOUT_S = 600


@pytest.fixture
def scheduler_env(airflow_db, tmp_path):
    with running_airflow(tmp_path) as env:
        yield env, tmp_path


def _backfill_runs() -> list[tuple]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.execute(
            select(DagRun.logical_date, DagRun.state).where(
                DagRun.dag_id == DAG_ID, DagRun.run_type == "backfill"
            )
        ).all()


def test_native_backfill_reprocesses_each_past_day_without_moving_the_watermark(
    platform_db, scheduler_env
):
    env, logs = scheduler_env
    catalog = Catalog(platform_db)
    catalog.add("A", "Red cotton tee", "red")
    pipeline.run_all("first", catalog.now(), settings=catalog.settings, use_clip=False)
    watermark = catalog.sql("SELECT position, run_id FROM enrichment.capture_positions")
    last_upper = catalog.sql("SELECT upper_ts FROM enrichment.runs WHERE run_id = 'first'")[0][0]
    first = last_upper.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=20)
    for sku, day in (("D", 0), ("E", 1)):  # late-arriving products, one per past day
        catalog.add(sku, "Black linen shirt", "black")
        catalog.sql(
            "UPDATE catalog.products SET updated_at = %s WHERE sku = %s",
            (first + timedelta(days=day, hours=12), sku),
        )
    airflow(["dags", "unpause", DAG_ID], env)  # the scheduler runs no run of a paused DAG
    # logical dates first+1d and first+2d: intervals [first, first+1d], [first+1d, first+2d]
    airflow(
        ["backfill", "create", "--dag-id", DAG_ID,
         "--from-date", (first + timedelta(days=1)).isoformat(),
         "--to-date", (first + timedelta(days=2)).isoformat()],
        env,
    )  # fmt: skip
    deadline = time.monotonic() + TIMEOUT_S
    runs: list = []
    while time.monotonic() < deadline:
        runs = _backfill_runs()
        if len(runs) == 2 and all(str(s) in ("success", "failed") for _, s in runs):
            break
        time.sleep(3)
    detail = (logs / "scheduler.log").read_text()[-3000:]
    assert len(runs) == 2 and all(str(s) == "success" for _, s in runs), (runs, detail)

    past = catalog.sql(
        "SELECT summary->'changes', (summary->'window'->>'past_interval')::bool "
        "FROM enrichment.runs WHERE run_id LIKE 'catalog_incremental__backfill%%' "
        "ORDER BY upper_ts"
    )
    assert past == [({"new": 1}, True), ({"new": 1}, True)]
    assert catalog.sql("SELECT count(DISTINCT sku) FROM enrichment.tags WHERE sku IN "
                       "('D', 'E')") == [(2,)]  # fmt: skip
    assert catalog.sql("SELECT position, run_id FROM enrichment.capture_positions") == watermark
