"""
### Catalog quality report

After every committed run (scheduled on the tag store and vector index Assets that
`commit` updates): check the data quality of the platform's current state against the latest
committed run, rebuild that run's analysts' report and Great Expectations Data Docs,
and fail loudly (the task log lists each failed check with its observed value and
threshold) when a check fails.

Checks: coverage of tags per attribute, consistency between the platform state and the
tag and vector stores, validity of stored tags, freshness against the run's upper bound,
quarantined image rate, drift of tag value distributions, precision on the golden
sample. Thresholds: `include/enrichment/quality/quality.yaml` or `ENRICHMENT_QUALITY_*`.
The reports open from the **Catalog quality** entry of the Airflow menu.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from enrichment_airflow.assets import COMMIT_OUTLETS
from enrichment_airflow.shard_pipeline import DEFAULT_ARGS, fail_fast_on_quality


@dag(
    dag_id="catalog_quality_report",
    schedule=COMMIT_OUTLETS,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=timedelta(hours=1),
    tags=["catalog", "enrichment", "quality"],
    doc_md=__doc__,
)
def catalog_quality_report():
    @task(retries=1)
    def check_quality() -> dict:
        return fail_fast_on_quality("quality_report")

    check_quality()


dag = catalog_quality_report()
