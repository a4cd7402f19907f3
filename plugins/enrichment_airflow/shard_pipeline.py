"""The shard pipeline both catalogue DAGs use: detect → process_shard (mapped) → commit
→ quality (data quality checks and the run's report; fails the run when a check fails).

Shards run in-process or as GPU pods, chosen per run (``enrichment_airflow.k8s_shards``).
``commit`` emits the tag store and vector index Assets (``enrichment_airflow.assets``).
Deterministic errors fail at once (``enrichment_airflow.failfast``); failures alert
through ``enrichment_airflow.alerts`` when configured.

Only wiring: every step is one call into ``enrichment.orchestration.tasks``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import get_current_context, task

from enrichment_airflow import assets
from enrichment_airflow.alerts import CatalogAlert
from enrichment_airflow.failfast import call
from enrichment_airflow.k8s_shards import launch_shards

DEFAULT_ARGS = {
    "owner": "catalog-platform",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=1),
    "on_failure_callback": [CatalogAlert("failure")],
}
DAGRUN_TIMEOUT = timedelta(hours=12)
SHARD_TIMEOUT = timedelta(hours=2)


def fail_fast_on_quality(step: str) -> dict:
    """Run ``airflow_tasks.<step>``; failed data-quality checks fail the task without retry."""
    from enrichment.orchestration import tasks as airflow_tasks

    return call(getattr(airflow_tasks, step), get_current_context())


def _skip_dry_run(context) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from enrichment.orchestration import tasks as airflow_tasks

    if airflow_tasks.is_dry_run(context):
        raise AirflowSkipException("dry run: nothing was detected, nothing to commit")


def shard_pipeline(kind: str = "incremental"):
    """Add detect, mapped shard processing and commit to the current DAG; returns commit."""

    @task(execution_timeout=timedelta(minutes=30))
    def detect() -> list[int]:
        from enrichment.orchestration import tasks as airflow_tasks

        context = get_current_context()
        if kind == "backfill":
            return call(airflow_tasks.backfill_detect, context)
        return call(airflow_tasks.detect, context, kind=kind)

    @task(max_active_tis_per_dagrun=4, execution_timeout=SHARD_TIMEOUT)
    def process_shard(shard: int) -> None:
        from enrichment.orchestration import tasks as airflow_tasks

        call(airflow_tasks.process_shard_in_process, get_current_context(), shard)

    @task(trigger_rule="none_failed", outlets=assets.COMMIT_OUTLETS)
    def commit() -> dict:
        from enrichment.orchestration import tasks as airflow_tasks

        context = get_current_context()
        _skip_dry_run(context)
        summary = call(airflow_tasks.commit, context)
        assets.emit(context, summary)
        return summary

    @task(retries=1, execution_timeout=timedelta(minutes=30))
    def quality() -> dict:
        return fail_fast_on_quality("quality")

    committed = commit()
    # local: in-process task; kubernetes: one GPU pod per shard (same command), see k8s_shards
    launch_shards(detect(), process_shard) >> committed
    committed >> quality()
    return committed
