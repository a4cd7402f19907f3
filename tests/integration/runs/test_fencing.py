"""Run fencing on the real embedded PostgreSQL: a stale run never writes over newer state.

The sequence from the field: run A crashes after detection, the operator runs again
(run B) and B commits newer edits; finishing A later (``process-shard --run-id A``,
``commit``) must leave B's tags, documents and vectors in place.
"""

from __future__ import annotations

import json

import pytest

from enrichment.cli.main import main
from enrichment.orchestration import pipeline
from enrichment.runs import lifecycle as runs
from enrichment.runs.errors import RunFenced
from enrichment.runs.status import platform_status
from enrichment.runs.worker import process_shard
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration

EDITED = ("A", "B", "C", "D")


@pytest.fixture
def catalog(platform_db):
    cat = Catalog(platform_db)
    cat.add("A", "Classic red tee", "red")
    cat.add("B", "Red summer dress", "red", category="Dresses")
    cat.add("C", "Red chino pants", "red", category="Pants")
    cat.add("D", "Red wool hat", "red", category="Hats")
    cat.add("E", "Canvas bag", "yellow", category="Bags")
    pipeline.run_all("r0", cat.now(), settings=cat.settings, use_clip=False)
    return cat


def state(cat: Catalog) -> dict:
    """Tags, documents and text vectors of every SKU (what a stale run could overwrite)."""
    name = cat.sql(
        "SELECT name FROM enrichment.vector_indexes WHERE kind = 'text' AND state = 'active'"
    )[0][0]
    return {
        "tags": cat.sql(
            "SELECT sku, attribute, value, confidence FROM enrichment.tags ORDER BY 1, 2, 3"
        ),
        "docs": cat.sql("SELECT sku, title, content_hash FROM enrichment.product_docs ORDER BY 1"),
        "vectors": cat.sql(
            f"SELECT sku, content_hash, embedding::text FROM enrichment.vec_{name} ORDER BY 1"
        ),
        "product_state": cat.sql(
            "SELECT sku, text_hash, last_run_id FROM enrichment.product_state ORDER BY 1"
        ),
    }


def test_finishing_a_crashed_run_after_a_newer_commit_changes_nothing(catalog, capsys):
    for sku in EDITED:  # the edits run A sees
        catalog.set_title(sku, f"Striped edition {sku} v1")
    run_a = runs.detect("A", catalog.now(), settings=catalog.settings)  # ... then crashes
    assert run_a["shards"] == 1
    for sku in EDITED:  # newer edits, picked up by the operator's new run B
        catalog.set_title(sku, f"Floral edition {sku} v2")
    summary_b = pipeline.run_all("B", catalog.now(), settings=catalog.settings, use_clip=False)
    assert summary_b["superseded_runs"] == ["A"]
    after_b = state(catalog)
    assert [d[1] for d in after_b["docs"] if d[0] in EDITED] == [
        f"Floral edition {sku} v2" for sku in EDITED
    ]
    assert {(t[0], t[2]) for t in after_b["tags"] if t[1] == "pattern"} >= {
        (sku, "floral") for sku in EDITED
    }

    # the documented recovery commands, run against the stale run
    assert main(["process-shard", "--run-id", "A", "--shard", "0", "--no-clip"]) == 1
    err = capsys.readouterr().err
    assert "run A is superseded" in err and "B" in err and "abandon --run-id A" in err
    assert main(["commit", "--run-id", "A"]) == 1
    assert "run A is superseded" in capsys.readouterr().err
    with pytest.raises(RunFenced):
        process_shard("A", 0, settings=catalog.settings, use_clip=False)
    assert state(catalog) == after_b
    # the next incremental finds nothing left to do: B had every change A held
    assert (
        pipeline.run_all("r3", catalog.now(), settings=catalog.settings, use_clip=False)["changes"]
        == {}
    )
    status = platform_status(catalog.settings)
    assert status["runs_in_progress"] == 0 and status["runs_superseded"] == 1
    assert status["stale_runs"][0]["run_id"] == "A"
    assert status["stale_runs"][0]["superseded_by"] == "B"


def test_an_older_run_is_fenced_while_a_newer_one_is_in_progress(catalog):
    catalog.set_title("A", "Blue edition v1")
    runs.detect("A", catalog.now(), settings=catalog.settings)
    catalog.set_title("A", "Green edition v2")
    runs.detect("B", catalog.now(), settings=catalog.settings)  # not processed yet
    before = state(catalog)
    with pytest.raises(RunFenced, match="is in progress"):
        process_shard("A", 0, settings=catalog.settings, use_clip=False)
    assert state(catalog) == before
    # abandoning B lets A finish: B's window is re-read by the next run after A
    assert main(["abandon", "--run-id", "B", "--reason", "operator test"]) == 0
    process_shard("A", 0, settings=catalog.settings, use_clip=False)
    runs.commit("A", settings=catalog.settings)
    with pytest.raises(RunFenced, match="abandoned"):
        runs.commit("B", settings=catalog.settings)
    latest = pipeline.run_all("C", catalog.now(), settings=catalog.settings, use_clip=False)
    assert latest["changes"] == {"text_changed": 1}
    docs = catalog.sql("SELECT title FROM enrichment.product_docs WHERE sku = 'A'")
    assert docs == [("Green edition v2",)]


def test_a_backfill_overtaken_on_some_skus_writes_only_the_rest(catalog):
    backfill = runs.detect(
        "BF",
        catalog.now(),
        kind="backfill",
        selection={"skus": ["A", "E"], "force": True},
        settings=catalog.settings,
    )
    assert backfill["shards"] == 1
    catalog.set_title("A", "Green edition v2")
    pipeline.run_all("N", catalog.now(), settings=catalog.settings, use_clip=False)
    newer_a = [r for r in state(catalog)["tags"] if r[0] == "A"]
    result = process_shard("BF", 0, settings=catalog.settings, use_clip=False)
    assert result["counts"]["items_superseded"] == 1
    summary = runs.commit("BF", settings=catalog.settings)
    assert summary["superseded_items"] == 1
    assert [r for r in state(catalog)["tags"] if r[0] == "A"] == newer_a
    owners = dict(
        catalog.sql("SELECT sku, last_run_id FROM enrichment.product_state WHERE sku IN ('A','E')")
    )
    assert owners == {"A": "N", "E": "BF"}


def test_abandon_refuses_a_committed_run_and_status_lists_abandoned(catalog, capsys):
    assert main(["abandon", "--run-id", "r0"]) == 1
    assert "cannot be abandoned" in capsys.readouterr().err
    assert main(["abandon", "--run-id", "nope"]) == 1
    catalog.set_title("A", "Blue edition v1")
    runs.detect("X", catalog.now(), settings=catalog.settings)
    assert platform_status(catalog.settings)["runs_in_progress"] == 1
    assert main(["abandon", "--run-id", "X", "--reason", "pod lost"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["runs_in_progress"] == 0 and status["runs_abandoned"] == 1
    assert status["stale_runs"][0] | {"started_at": None, "ended_at": None} == {
        "run_id": "X",
        "kind": "incremental",
        "status": "abandoned",
        "superseded_by": None,
        "started_at": None,
        "ended_at": None,
        "reason": "pod lost",
    }
    # its change is not lost: the next run picks it up
    assert pipeline.run_all("Y", catalog.now(), settings=catalog.settings, use_clip=False)[
        "changes"
    ] == {"text_changed": 1}


def test_only_live_incremental_runs_fence_each_other(catalog):
    from enrichment.db.connection import connect, database_url
    from enrichment.runs import fencing

    catalog.set_title("A", "Striped edition A v2")
    runs.detect("older", catalog.now(), settings=catalog.settings)
    runs.detect("newer", catalog.now(), settings=catalog.settings)
    url = database_url(catalog.settings)
    with connect(url) as conn, conn.cursor() as cur:
        assert "newer" in fencing.fence_problem(cur, "enrichment", "older")
        assert fencing.fence_problem(cur, "enrichment", "newer") is None
        # Airflow's own backfill: each run reads only its own past interval
        cur.execute(
            "UPDATE enrichment.runs SET params = params || '{\"past_interval\": true}'::jsonb "
            "WHERE run_id IN ('older', 'newer')"
        )
        assert fencing.fence_problem(cur, "enrichment", "older") is None
        assert fencing.mark_superseded(cur, "enrichment", "newer") == []
