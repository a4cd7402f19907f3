"""Incremental runs with the Elasticsearch tag sink, against the protocol-level ES server.

The platform writes tags to PostgreSQL (the system of record) and mirrors them through
the official Elasticsearch client into ``tests.fakes.es_server``: documents, metadata-only
updates, deletes, idempotent re-runs, retries on 429, resending only failed bulk items,
a shard that fails on a mapping error, the taxonomy blue/green switch and the quality
store-count check.
"""

from __future__ import annotations

import pytest
import yaml

from enrichment.cli.main import main
from enrichment.config import load_settings
from enrichment.orchestration import pipeline
from enrichment.runs.worker import shared_worker
from enrichment.tagging.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy
from enrichment.tags.es_bulk import EsWriteError
from tests.catalog_fixture import Catalog
from tests.fakes.es_server import EsServer

pytestmark = pytest.mark.integration

ALIAS = "catalog-tags"
SKUS = ["A", "B", "C", "D", "E"]


@pytest.fixture
def es():
    server = EsServer().start()
    yield server
    server.stop()


@pytest.fixture
def catalog(platform_db, es, monkeypatch):
    monkeypatch.setenv("ENRICHMENT_TAG_SINKS", "elasticsearch")
    monkeypatch.setenv("ENRICHMENT_ES_URL", es.url)
    monkeypatch.setenv("ENRICHMENT_ES_MAX_RETRIES", "3")
    monkeypatch.setenv("ENRICHMENT_ES_RETRY_BACKOFF_SECONDS", "0.001")
    cat = Catalog(platform_db)
    cat.add("A", "Classic tee", "red")
    cat.add("B", "Summer dress", "blue", category="Dresses")
    cat.add("C", "Chino pants", "green", category="Pants")
    cat.add("D", "Wool hat", "black", category="Hats")
    cat.add("E", "Canvas bag", "yellow", category="Bags")
    return cat


def _run(cat: Catalog, run_id: str, settings=None, **kw) -> dict:
    return pipeline.run_all(
        run_id, cat.now(), settings=settings or cat.settings, use_clip=False, **kw
    )


def _sink(settings):
    return shared_worker(settings, use_clip=False).tags.sinks[0]


def _pg_tags(cat: Catalog) -> dict[str, set]:
    out: dict[str, set] = {}
    for sku, attribute, value, confidence in cat.sql(
        "SELECT sku, attribute, value, confidence FROM enrichment.tags"
    ):
        out.setdefault(sku, set()).add((attribute, value, round(confidence, 4)))
    return out


def _es_tags(es: EsServer, target: str = ALIAS) -> dict[str, set]:
    return {
        sku: {(t["attribute"], t["value"], round(t["confidence"], 4)) for t in d["tags"]}
        for sku, d in es.docs(target).items()
    }


def test_run_mirrors_tags_metadata_and_deletes_and_a_rerun_writes_nothing(catalog, es):
    _run(catalog, "r1")
    version = Taxonomy.load().version
    index = f"{ALIAS}-{version}"
    assert es.alias(ALIAS) == {index}  # the first version index gets the read alias
    assert es.engine.auto_created == []
    mapping = es.engine.indexes[index]["mappings"]
    assert mapping["dynamic"] == "strict" and mapping["properties"]["tags"]["type"] == "nested"
    assert _es_tags(es) == _pg_tags(catalog) and set(_es_tags(es)) == set(SKUS)
    doc = es.docs(ALIAS)["A"]
    assert (doc["price"], doc["taxonomy_version"], doc["run_id"]) == (10.0, version, "r1")
    assert ("color", "red") in {(t["attribute"], t["value"]) for t in doc["tags"]}

    catalog.set_price("A", 12.5)  # metadata only
    catalog.soft_delete("D")
    catalog.hard_delete("E")
    before = len(es.requests)
    summary = _run(catalog, "r2")
    assert summary["changes"] == {"metadata_only": 1, "deleted": 2}
    r2 = [a for r in es.requests[before:] for a in r.actions]
    assert sorted(r2) == [
        ("delete", index, "D"),
        ("delete", index, "E"),
        ("update", index, "A"),
    ]  # A is not re-indexed (no re-tag)
    docs = es.docs(ALIAS)
    assert set(docs) == {"A", "B", "C"}
    assert docs["A"]["price"] == 12.5 and docs["A"]["run_id"] == "r1"
    assert docs["A"]["tags"] == doc["tags"]
    assert _es_tags(es) == _pg_tags(catalog)

    from enrichment.runs.status import platform_status

    status = platform_status(catalog.settings)
    assert status["sinks"] == {"elasticsearch": {"skus": 3}}
    assert status["products_active"] == 3  # the existing keys are unchanged

    state = es.docs(ALIAS)
    before = len(es.requests)
    summary = _run(catalog, "r3")
    assert summary["processed"] == 0
    assert not [r for r in es.requests[before:] if r.actions]  # no write request at all
    assert es.docs(ALIAS) == state


def test_429_twice_then_success_retries_the_bulk_request(catalog, es):
    es.fail_next(status=429, times=2, path="_bulk")
    summary = _run(catalog, "r1")
    assert summary["step_counts"]["tag_sink_retries"] == 2  # visible in the run summary
    bulks = [r for r in es.requests if r.path.endswith("_bulk")]
    assert [r.status for r in bulks] == [429, 429, 200]
    assert all(sorted(a[2] for a in r.actions) == SKUS for r in bulks)
    assert set(es.docs(ALIAS)) == set(SKUS)
    assert _sink(catalog.settings).stats["retries"] == 2


def test_partial_bulk_failure_resends_only_the_failed_items(catalog, es):
    es.fail_bulk_items({"B", "D"}, status=429, times=1)
    _run(catalog, "r1")
    bulks = [r for r in es.requests if r.actions]
    assert [sorted(a[2] for a in r.actions) for r in bulks] == [SKUS, ["B", "D"]]
    assert set(es.docs(ALIAS)) == set(SKUS)
    stats = _sink(catalog.settings).stats
    assert (stats["retries"], stats["items_resent"]) == (1, 2)


def test_persistent_400_fails_the_shard_naming_the_sku_and_a_rerun_completes(catalog, es):
    es.fail_bulk_items({"C"}, status=400, times=None, error_type="document_parsing_exception")
    with pytest.raises(EsWriteError, match=r"C: 400 document_parsing_exception") as failed:
        _run(catalog, "r1")
    assert list(failed.value.failures) == ["C"]
    assert len([r for r in es.requests if r.actions]) == 1  # a 400 is not retried
    # PostgreSQL: the primary was written first, but the run did not commit
    assert set(_pg_tags(catalog)) == set(SKUS)
    assert catalog.sql("SELECT status FROM enrichment.runs") == [("detected",)]
    assert catalog.sql("SELECT count(*) FROM enrichment.capture_positions") == [(0,)]
    assert catalog.sql("SELECT count(*) FROM enrichment.product_state") == [(0,)]

    es.clear_faults()
    summary = _run(catalog, "r1")  # the Airflow retry: same run, the shard is redone
    assert summary["processed"] == 5
    assert catalog.sql("SELECT run_id FROM enrichment.capture_positions") == [("r1",)]
    assert _es_tags(es) == _pg_tags(catalog) and set(_es_tags(es)) == set(SKUS)


def test_taxonomy_switch_refuses_an_incomplete_index_and_flips_the_alias_atomically(
    catalog, es, tmp_path, monkeypatch, capsys
):
    _run(catalog, "r1")
    old = f"{ALIAS}-{Taxonomy.load().version}"
    data = yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))
    data["attributes"][0]["templates"].append("a studio photo of {label}")
    (tmp_path / "taxonomy.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("ENRICHMENT_TAXONOMY", str(tmp_path / "taxonomy.yaml"))
    settings = load_settings()
    new = f"{ALIAS}-{Taxonomy.load(settings.taxonomy_path).version}"
    assert new != old

    catalog.set_title("A", "Classic cotton tee")
    catalog.soft_delete("E")
    _run(catalog, "r2", settings)
    assert set(es.docs(new)) == {"A"} and es.alias(ALIAS) == {old}  # searches still on old
    assert "E" not in es.docs(old)  # deletes reach every version index

    assert main(["es-index", "switch"]) == 1
    assert "1 active documents for 4 active SKUs" in capsys.readouterr().err
    assert es.alias(ALIAS) == {old}

    _run(catalog, "bf1", settings, kind="backfill", selection={"skus": SKUS, "force": True})
    assert set(es.docs(new)) == {"A", "B", "C", "D"}
    before = len(es.requests)
    assert main(["es-index", "switch"]) == 0
    switches = [r for r in es.requests[before:] if r.path == "/_aliases"]
    assert len(switches) == 1 and switches[0].status == 200  # one atomic request
    assert es.alias(ALIAS) == {new}
    assert main(["es-index", "versions", "--json"]) == 0
    assert main(["es-index", "drop", new]) == 1  # the active index is never dropped
    assert main(["es-index", "drop", "--all-retired"]) == 0
    assert set(es.engine.indexes) == {new}
    assert _sink(settings).count_skus() == 4


def test_quality_store_count_check_reads_the_sink(catalog, es):
    from enrichment.quality.evaluate import run_quality

    _run(catalog, "r1")
    result = run_quality("r1", docs=False, report=False)
    check = next(c for c in result.checks if c.name == "consistency.store_counts")
    assert check.outcome == "pass"
    rows = {r["store"]: r for r in result.report_data["store_counts"]}
    assert rows["tag sink (elasticsearch)"] | {"store": None} == {
        "store": None,
        "backend": "elasticsearch",
        "expected": 5,
        "actual": 5,
    }

    es.remove_doc(ALIAS, "B")  # behind the platform's back
    result = run_quality("r1", docs=False, report=False)
    check = next(c for c in result.checks if c.name == "consistency.store_counts")
    assert check.outcome == "fail"
