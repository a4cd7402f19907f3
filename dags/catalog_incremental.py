"""
### Catalog incremental enrichment

Daily: find what changed in the product catalogue since the last successful run (up to
this run's data-interval end), tag and embed only changed content, propagate deletes,
then commit the watermark. Re-running any task, or the whole run, changes nothing.

Steps: **detect** (change set, shard manifests) → **process_shard** (one mapped task per
shard; the same `python -m enrichment process-shard` command a GPU pod runs) →
**commit** (all shards succeeded → state and watermark in one transaction).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

DEFAULT_ARGS = {
    "owner": "catalog-platform",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


@dag(
    dag_id="catalog_incremental",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["catalog", "enrichment", "incremental"],
    doc_md=__doc__,
)
def catalog_incremental():
    @task
    def detect() -> list[int]:
        from enrichment import airflow_tasks

        return airflow_tasks.detect(get_current_context())

    @task(max_active_tis_per_dagrun=4)
    def process_shard(shard: int) -> None:
        from enrichment import airflow_tasks

        airflow_tasks.process_shard_in_process(get_current_context(), shard)

    @task(trigger_rule="none_failed")
    def commit() -> dict:
        from enrichment import airflow_tasks

        return airflow_tasks.commit(get_current_context())

    shards = detect()
    process_shard.expand(shard=shards) >> commit()


catalog_incremental()
