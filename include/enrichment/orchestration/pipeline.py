"""The run as the DAGs see it: bounds from the scheduler, then detect, shards, commit.

These functions take plain values (run id, upper bound, shard number) so a DAG task
is one call, and the same run can be driven without Airflow (``python -m enrichment run``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from enrichment.config import Settings, load_settings
from enrichment.runs import lifecycle as runs
from enrichment.runs.worker import shared_worker

log = logging.getLogger(__name__)


def platform_run_id(dag_id: str, airflow_run_id: str) -> str:
    """The platform's run id for an Airflow DAG run."""
    return f"{dag_id}__{airflow_run_id}"


def upper_bound(
    data_interval_end: datetime | None,
    run_after: datetime | None,
    logical_date: datetime | None = None,
) -> datetime:
    """A run's upper time bound: its data-interval end, else its trigger time.

    Never ``now()``: a retry of the same run must see the same input.
    """
    for candidate in (data_interval_end, run_after, logical_date):
        if candidate is not None:
            return candidate
    raise ValueError("a run needs a data interval end or a trigger time as its upper bound")


def ensure_ready(settings: Settings | None = None) -> None:
    """Apply pending migrations (idempotent; cheap when up to date)."""
    from enrichment.db import connection as db
    from enrichment.db import schema

    settings = settings or load_settings()
    schema.upgrade(db.database_url(settings), settings.state_schema)


def run_all(
    run_id: str,
    upper: datetime,
    *,
    kind: str = "incremental",
    selection: dict | None = None,
    settings: Settings | None = None,
    use_clip: bool | None = None,
    progress: bool = False,
    interval_start: datetime | None = None,
) -> dict:
    """Detect, process every shard in-process, and commit one run; returns its summary."""
    settings = settings or load_settings()
    ensure_ready(settings)
    run = runs.detect(
        run_id,
        upper,
        kind=kind,
        selection=selection,
        settings=settings,
        interval_start=interval_start,
    )
    if run["status"] != "committed" and run["shards"]:
        worker = shared_worker(settings, use_clip=use_clip)
        shards = range(run["shards"])
        if progress:
            from tqdm import tqdm

            shards = tqdm(shards, desc="shards", unit="shard")
        for shard in shards:
            worker.process(run_id, shard)
    return runs.commit(run_id, settings=settings)
