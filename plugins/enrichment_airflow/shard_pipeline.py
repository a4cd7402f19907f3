"""The shard pipeline both catalogue DAGs use: detect → process_shard (mapped) → commit
→ quality (data quality checks and the run's report; fails the run when a check fails).

Shards run in-process or as GPU pods, chosen per run (``enrichment_airflow.k8s_shards``).

Only wiring: every step is one call into ``enrichment.orchestration.tasks``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import get_current_context, task

from enrichment_airflow.k8s_shards import launch_shards

DEFAULT_ARGS = {
    "owner": "catalog-platform",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def fail_fast_on_quality(step: str) -> dict:
    """Run ``airflow_tasks.<step>``; failed data-quality checks fail the task without retry."""
    from airflow.sdk.exceptions import AirflowFailException

    from enrichment.orchestration import tasks as airflow_tasks
    from enrichment.quality.evaluate import QualityFailed

    try:
        return getattr(airflow_tasks, step)(get_current_context())
    except QualityFailed as exc:  # a data problem: retrying changes nothing
        raise AirflowFailException(str(exc)) from exc


def shard_pipeline(kind: str = "incremental"):
    """Add detect, mapped shard processing and commit to the current DAG; returns commit."""

    @task
    def detect() -> list[int]:
        from enrichment.orchestration import tasks as airflow_tasks

        context = get_current_context()
        selection = None
        if kind == "backfill":
            selection = airflow_tasks.backfill_selection(context["params"])
        return airflow_tasks.detect(context, kind=kind, selection=selection)

    @task(max_active_tis_per_dagrun=4)
    def process_shard(shard: int) -> None:
        from enrichment.orchestration import tasks as airflow_tasks

        airflow_tasks.process_shard_in_process(get_current_context(), shard)

    @task(trigger_rule="none_failed")
    def commit() -> dict:
        from enrichment.orchestration import tasks as airflow_tasks

        return airflow_tasks.commit(get_current_context())

    @task(retries=1)
    def quality() -> dict:
        return fail_fast_on_quality("quality")

    committed = commit()
    # local: in-process task; kubernetes: one GPU pod per shard (same command), see k8s_shards
    launch_shards(detect(), process_shard) >> committed
    committed >> quality()
    return committed
