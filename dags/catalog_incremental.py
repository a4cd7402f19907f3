"""
### Catalog incremental enrichment

Daily: find what changed in the product catalogue since the last successful run (up to
this run's data-interval end), tag and embed only changed content, propagate deletes,
then commit the watermark. Re-running any task, or the whole run, changes nothing.

**Past intervals** (Airflow's Backfill, `airflow backfill create`, a trigger with a past
logical date): when a run's data-interval end is not after the watermark, the run
re-processes what changed within its own data interval and leaves the watermark where
it is (the log and the run report say so). For a selection by SKU, category or an
arbitrary period use `catalog_backfill`.

Steps: **detect** (change set, shard manifests) → **process_shard** (one mapped task per
shard; the same `python -m enrichment process-shard` command a GPU pod runs) →
**commit** (all shards succeeded → state and watermark in one transaction).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, dag

from enrichment_airflow.alerts import daily_deadline
from enrichment_airflow.shard_pipeline import DAGRUN_TIMEOUT, DEFAULT_ARGS, shard_pipeline


@dag(
    dag_id="catalog_incremental",
    # daily at midnight UTC; the one-day interval gives every run (scheduled, backfilled,
    # or triggered for a past logical date) a data interval it can re-process
    schedule=CronTriggerTimetable("@daily", timezone="UTC", interval=timedelta(days=1)),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=DAGRUN_TIMEOUT,
    deadline=daily_deadline(),
    tags=["catalog", "enrichment", "incremental"],
    doc_md=__doc__,
)
def catalog_incremental():
    shard_pipeline("incremental")


dag = catalog_incremental()
