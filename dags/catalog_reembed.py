"""
### Catalog re-embed (blue/green)

Manual: fill the **building** vector index version of a new model for every live
product, verify it, and switch queries to it atomically. Start it after setting
`ENRICHMENT_TEXT_MODEL_NEXT` (text; runs keep the serving version current meanwhile) or
changing `ENRICHMENT_CLIP_MODEL` (image).

* **kind**: `text` or `image`;
* **shards**: parallel fill tasks (each embeds the SKUs hashing to its slice; a repeated
  fill only embeds what is missing or changed);
* **switch**: verify (every live product has a vector, counts and set equality) and
  activate; refused with a clear message when incomplete;
* **drop_old**: drop the retired version after the switch.

Fill slices run in-process, or as GPU pods in kubernetes mode (same settings and
branch as the shard pods of `catalog_incremental`).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, get_current_context, task

from enrichment_airflow.failfast import call
from enrichment_airflow.k8s_shards import FillPodOperator, launch_shards
from enrichment_airflow.shard_pipeline import DAGRUN_TIMEOUT, DEFAULT_ARGS


@dag(
    dag_id="catalog_reembed",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=DAGRUN_TIMEOUT,
    tags=["catalog", "enrichment", "embeddings", "blue-green"],
    doc_md=__doc__,
    params={
        "kind": Param("text", enum=["text", "image"], description="Vector kind to re-embed."),
        "shards": Param(
            4, type="integer", minimum=1, maximum=256, description="Parallel fill tasks."
        ),
        "switch": Param(
            True, type=["null", "boolean"], description="Activate the version when complete."
        ),
        "drop_old": Param(False, type=["null", "boolean"], description="Drop the retired version."),
    },
)
def catalog_reembed():
    @task
    def slices() -> list[int]:
        return list(range(int(get_current_context()["params"]["shards"])))

    @task(max_active_tis_per_dagrun=4)
    def fill(shard: int) -> None:
        from enrichment.orchestration import tasks as airflow_tasks

        call(airflow_tasks.reembed_fill, get_current_context()["params"], shard)

    @task(trigger_rule="none_failed")
    def switch() -> dict:
        from enrichment.orchestration import tasks as airflow_tasks

        return call(airflow_tasks.reembed_switch, get_current_context()["params"])

    # local: in-process; kubernetes: one GPU pod per slice running the same fill command
    launch_shards(slices(), fill, operator=FillPodOperator, pod_task_id="fill_pod") >> switch()


dag = catalog_reembed()
