"""End to end through Airflow: ``dag.test()`` runs the real DAGs; assert on the stores."""

from __future__ import annotations

import importlib.util

import pytest

from enrichment.runs.status import platform_status
from tests.catalog_fixture import Catalog
from tests.paths import DAGS_DIR

pytestmark = pytest.mark.integration
DAGS = DAGS_DIR


def _dag(name: str):
    import os

    os.environ["ENRICHMENT_AIRFLOW_DEADLINES"] = "off"  # dag.test() cannot run deadlines
    spec = importlib.util.spec_from_file_location(f"e2e_{name}", DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for task in module.dag.tasks:  # dag.test() honours retry delays; fail fast here
        task.retries = 0
    return module.dag


@pytest.fixture
def catalog(platform_db, airflow_db):
    cat = Catalog(platform_db)
    cat.add("A", "Red cotton tee", "red")
    cat.add("B", "Blue summer dress", "blue", category="Dresses")
    cat.add("C", "Green chinos", "green", category="Pants")
    return cat


def _states(dag_run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_incremental_dag_lands_tags_and_vectors_then_only_changes(catalog):
    dag = _dag("catalog_incremental")
    run = dag.test(run_after=catalog.now())
    assert str(run.state) == "success", _states(run)
    status = platform_status(catalog.settings)
    assert (status["products_active"], status["tagged_active"], status["vectors_active"]) == (
        3,
        3,
        3,
    )
    assert status["last_run"]["changes"] == {"new": 3}

    catalog.set_title("A", "Red linen tee")
    catalog.set_price("B", 99.0)
    catalog.hard_delete("C")
    run = dag.test(run_after=catalog.now())
    assert str(run.state) == "success", _states(run)
    status = platform_status(catalog.settings)
    last = status["last_run"]
    assert last["changes"] == {"text_changed": 1, "metadata_only": 1, "deleted": 1}
    assert last["retagged"] == 1 and last["text_embedded"] == 1 and last["deleted"] == 1
    assert status["orphan_tags"] == 0 and status["orphan_vectors"] == 0
    assert catalog.sql(
        "SELECT value FROM enrichment.tags WHERE sku = 'A' AND attribute = 'material'"
    ) == [("linen",)]


def test_backfill_dag_takes_typed_params_and_keeps_the_watermark(catalog):
    incremental = _dag("catalog_incremental")
    assert str(incremental.test(run_after=catalog.now()).state) == "success"
    watermark = catalog.sql("SELECT position, run_id FROM enrichment.capture_positions")
    backfill = _dag("catalog_backfill")
    run = backfill.test(
        run_after=catalog.now(), run_conf={"selection": "skus", "skus": ["A", "B"], "force": True}
    )
    assert str(run.state) == "success", _states(run)
    last = platform_status(catalog.settings)["last_run"]
    assert last["kind"] == "backfill" and last["changes"] == {"reprocess": 2}
    assert catalog.sql("SELECT position, run_id FROM enrichment.capture_positions") == watermark


def test_backfill_with_an_incomplete_form_fails_with_a_clear_message(catalog):
    backfill = _dag("catalog_backfill")
    run = backfill.test(run_after=catalog.now(), run_conf={"selection": "skus", "skus": []})
    assert str(run.state) == "failed"
    assert catalog.sql("SELECT count(*) FROM enrichment.runs") == [(0,)]


def test_reembed_dag_fills_verifies_and_switches_the_next_text_model(
    catalog, tmp_path, monkeypatch
):
    from enrichment.runs import worker
    from enrichment.vectors.store import PgVectorStore
    from tests.fakes.tiny_text_model import build_tiny_text_model

    assert str(_dag("catalog_incremental").test(run_after=catalog.now()).state) == "success"
    store = PgVectorStore(catalog.url, "enrichment")
    old = store.active_index("text")
    monkeypatch.setenv(
        "ENRICHMENT_TEXT_MODEL_NEXT", str(build_tiny_text_model(tmp_path / "next", dim=24))
    )
    worker._WORKERS.clear()
    run = _dag("catalog_reembed").test(
        run_after=catalog.now(), run_conf={"kind": "text", "shards": 2, "drop_old": True}
    )
    assert str(run.state) == "success", _states(run)
    new = store.active_index("text")
    assert new.name != old.name and new.dim == 24
    assert sorted(store.vectors(new)[0]) == ["A", "B", "C"]
    assert [i.name for i in store.indexes("text")] == [new.name]  # old one dropped
    worker._WORKERS.clear()


def _asset_events(run) -> dict[str, dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_run_id == run.run_id, AssetEvent.source_dag_id == run.dag_id)
        ).all()
    return {name: extra for name, extra in rows}


def test_commit_emits_tag_store_and_vector_index_asset_events(catalog):
    run = _dag("catalog_incremental").test(run_after=catalog.now())
    assert str(run.state) == "success", _states(run)
    events = _asset_events(run)
    assert set(events) == {"catalog_tag_store", "catalog_text_vectors", "catalog_image_vectors"}
    tags = events["catalog_tag_store"]
    assert tags["run_id"] == f"catalog_incremental__{run.run_id}" and tags["retagged"] == 3
    assert events["catalog_text_vectors"]["upserted"] == 3


def test_incremental_run_for_a_past_logical_date_processes_that_interval(catalog):
    from datetime import timedelta

    dag = _dag("catalog_incremental")
    assert str(dag.test(run_after=catalog.now()).state) == "success"
    watermark = catalog.sql("SELECT position, run_id FROM enrichment.capture_positions")
    last_upper = catalog.sql("SELECT max(upper_ts) FROM enrichment.runs")[0][0]
    day = last_upper.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    catalog.add("D", "Black linen shirt", "black")  # a late-arriving product, stamped
    catalog.sql(  # inside the past interval (the watermark has passed it)
        "UPDATE catalog.products SET updated_at = %s WHERE sku = 'D'", (day + timedelta(hours=12),)
    )
    run = dag.test(logical_date=day + timedelta(days=1), run_after=catalog.now())
    assert str(run.state) == "success", _states(run)
    last = platform_status(catalog.settings)["last_run"]
    assert last["changes"] == {"new": 1} and last["retagged"] == 1
    assert last["window"]["past_interval"] is True
    assert catalog.sql("SELECT count(*) FROM enrichment.tags WHERE sku = 'D'")[0][0] > 0
    assert catalog.sql("SELECT position, run_id FROM enrichment.capture_positions") == watermark


def test_backfill_by_category_alone_matches_any_case(catalog):
    assert str(_dag("catalog_incremental").test(run_after=catalog.now()).state) == "success"
    run = _dag("catalog_backfill").test(
        run_after=catalog.now(),
        run_conf={"selection": "category", "category": "dresses", "force": True},
    )
    assert str(run.state) == "success", _states(run)
    last = platform_status(catalog.settings)["last_run"]
    assert last["changes"] == {"reprocess": 1} and last["text_embedded"] == 1


def test_backfill_dry_run_writes_nothing(catalog):
    backfill = _dag("catalog_backfill")
    run = backfill.test(run_after=catalog.now(), run_conf={"selection": "all", "dry_run": True})
    assert str(run.state) == "success", _states(run)
    states = _states(run)
    assert states["detect"] == "success" and states["commit"] == "skipped", states
    assert catalog.sql("SELECT count(*) FROM enrichment.runs") == [(0,)]


def test_a_bad_form_fails_at_once_despite_retries(catalog):
    spec = importlib.util.spec_from_file_location("e2e_retrying", DAGS / "catalog_backfill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # retries kept: a deterministic error must not use them
    run = module.dag.test(
        run_after=catalog.now(),
        run_conf={"selection": "updated_between", "since": "2026-11-28T00:00:00Z",
                  "until": "2026-11-25T00:00:00Z"},
    )  # fmt: skip
    detect = next(ti for ti in run.get_task_instances() if ti.task_id == "detect")
    assert str(run.state) == "failed" and str(detect.state) == "failed"
    assert detect.try_number == 1
