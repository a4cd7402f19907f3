"""
### Catalog backfill

Manual re-processing of a slice of the catalogue, triggered from the Airflow UI with
typed parameters:

* **selection**: `skus` (list below), `category` (the shop's label in any case, or a
  taxonomy category the products were tagged with), `updated_between` (`since` ..
  `until`), or `all`; each can be triggered alone;
* **force**: re-tag and re-embed even products whose content did not change (use after a
  taxonomy or model change); without it only products that differ from what the
  platform last processed are redone (a repair);
* **reconcile**: also find products deleted from the source without a tombstone;
* **dry_run**: report what would be processed and its estimated cost, write nothing.

The form is checked before any work: an empty SKU list, `since` after `until` or a
category matching nothing fail the run at once with the reason (no retries).
A backfill never moves the incremental watermark. Same steps and shard command as
`catalog_incremental`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag

from enrichment_airflow.shard_pipeline import DAGRUN_TIMEOUT, DEFAULT_ARGS, shard_pipeline


@dag(
    dag_id="catalog_backfill",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["catalog", "enrichment", "backfill"],
    doc_md=__doc__,
    dagrun_timeout=DAGRUN_TIMEOUT,
    params={
        "selection": Param(
            "skus",
            enum=["skus", "category", "updated_between", "all"],
            values_display={
                "skus": "Listed SKUs",
                "category": "One category",
                "updated_between": "Products updated in a date range",
                "all": "The whole catalogue",
            },
            title="What to re-process",
            description_md="Fill in **only** the field of the selection you choose below.",
            section="Selection",
        ),
        "skus": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            title="SKUs",
            description_md="One SKU per line (selection **Listed SKUs**). Unknown SKUs are "
            "listed in the log; the run fails when none exists.",
            section="Selection",
        ),
        "category": Param(
            None,
            type=["null", "string"],
            title="Category",
            description_md="The shop's category label (any case, e.g. `Dresses`) or a "
            "taxonomy category the products were tagged with (e.g. `dress`); selection "
            "**One category**. A category matching nothing fails at once, listing close "
            "matches.",
            section="Selection",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Updated since",
            description_md="Products updated at or after this time (selection **date "
            "range**; required there).",
            section="Selection",
        ),
        "until": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Updated until",
            description_md="Products updated at or before this time (optional; default: "
            "the run's trigger time). Must not be before *Updated since*.",
            section="Selection",
        ),
        "force": Param(
            False,
            type=["null", "boolean"],  # a switch, never marked required in the form
            title="Force",
            description_md="Re-tag **and re-embed** every selected product even when its "
            "content did not change (after a taxonomy or model change). Off: only products "
            "that differ from what the platform last processed are redone.",
            section="Options",
        ),
        "reconcile": Param(
            False,
            type=["null", "boolean"],  # a switch, never marked required in the form
            title="Reconcile deletes",
            description_md="Also remove products deleted from the shop without a tombstone.",
            section="Options",
        ),
        "dry_run": Param(
            False,
            type=["null", "boolean"],  # a switch, never marked required in the form
            title="Dry run",
            description_md="Only report what would be processed (counts per change, "
            "tagging and embedding calls, estimated time and API cost from recent runs); "
            "writes nothing.",
            section="Options",
        ),
    },
)
def catalog_backfill():
    shard_pipeline("backfill")


dag = catalog_backfill()
