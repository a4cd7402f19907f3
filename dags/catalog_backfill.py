"""
### Catalog backfill

Manual re-processing of a slice of the catalogue, triggered from the Airflow UI with
typed parameters:

* **selection**: `skus` (list below), `category` (the catalogue's own category label,
  case-insensitive), `updated_between` (`since` .. `until`), or `all`;
* **force**: re-tag and re-embed even products whose content did not change (use after a
  taxonomy or model change); without it only products that differ from what the
  platform last processed are redone (a repair);
* **reconcile**: also find products deleted from the source without a tombstone.

A backfill never moves the incremental watermark. Same steps and shard command as
`catalog_incremental`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from enrichment_airflow.shard_pipeline import DEFAULT_ARGS, shard_pipeline


@dag(
    dag_id="catalog_backfill",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["catalog", "enrichment", "backfill"],
    doc_md=__doc__,
    params={
        "selection": Param(
            "skus",
            enum=["skus", "category", "updated_between", "all"],
            description="Which products to re-process.",
        ),
        "skus": Param(
            [],
            type="array",
            items={"type": "string"},
            description="SKUs, one per line (selection = skus).",
        ),
        "category": Param(
            "", type="string", description="Catalogue category label (selection = category)."
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="Updated at or after (selection = updated_between).",
        ),
        "until": Param(
            None,
            type=["null", "string"],
            format="date-time",
            description="Updated at or before (optional).",
        ),
        "force": Param(
            False, type="boolean", description="Re-tag and re-embed even unchanged products."
        ),
        "reconcile": Param(
            False, type="boolean", description="Also propagate deletes that left no tombstone."
        ),
    },
)
def catalog_backfill():
    shard_pipeline("backfill")


dag = catalog_backfill()
