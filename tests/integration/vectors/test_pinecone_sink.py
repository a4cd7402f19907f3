"""The Pinecone vector sink, through the official SDK, against a local Pinecone API server.

pgvector stays the system of record; every vector write is mirrored into the namespace
of its index version in Pinecone. The server (``tests/fakes/pinecone_server.py``) speaks the
REST subset the SDK calls and injects 429s, 5xx and partial failures.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from enrichment.bluegreen.fill import fill
from enrichment.bluegreen.vector_versions import SwitchRefused, drop, switch
from enrichment.cli.main import main
from enrichment.config import ConfigError, load_settings
from enrichment.db.connection import database_url
from enrichment.orchestration import pipeline
from enrichment.runs.status import platform_status
from enrichment.vectors.factory import vector_store_from_settings
from enrichment.vectors.pinecone_client import sku_of
from enrichment.vectors.records import SinkError
from tests.catalog_fixture import Catalog
from tests.fakes.pinecone_server import PineconeTestServer
from tests.fakes.tiny_text_model import build_tiny_text_model

pytestmark = pytest.mark.integration

WRITES = ("/vectors/upsert", "/vectors/delete", "/vectors/update")
ODD_SKU = "ÁO-7 đỏ"  # not ASCII: its Pinecone id is percent-encoded UTF-8
ODD_ID = "%C3%81O-7%20%C4%91%E1%BB%8F"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("pinecone-models")
    return (
        build_tiny_text_model(root / "old", dim=32, seed=1),
        build_tiny_text_model(root / "new", dim=32, seed=2),
        build_tiny_text_model(root / "small", dim=24, seed=3),
    )


@pytest.fixture
def server():
    with PineconeTestServer({"products": 32, "small": 16}) as srv:
        yield srv


@pytest.fixture
def cat(platform_db, server, models, monkeypatch):
    for key, value in {
        "ENRICHMENT_TEXT_MODEL": str(models[0]),
        "ENRICHMENT_VECTOR_SINKS": "pinecone",
        "ENRICHMENT_PINECONE_API_KEY": server.api_key,
        "ENRICHMENT_PINECONE_CONTROLLER_HOST": server.control_url,
        "ENRICHMENT_PINECONE_INDEX": "products",
        "ENRICHMENT_PINECONE_BATCH_SIZE": "2",
        "ENRICHMENT_PINECONE_RETRIES": "6",
        "ENRICHMENT_PINECONE_RETRY_BACKOFF": "0.005",
    }.items():
        monkeypatch.setenv(key, value)
    catalog = Catalog(load_settings())
    for sku, title, category in [
        ("A", "Classic cotton tee", "T-Shirts"),
        ("B", "Summer dress", "Dresses"),
        ("C", "Chino pants", "Pants"),
        ("D", "Wool hat", "Hats"),
        ("E", "Canvas tote bag", "Bags"),
        (ODD_SKU, "Áo thun nữ màu đỏ", "T-Shirts"),
        ("F", "Gift card", None),
    ]:
        catalog.add(sku, title, category=category)
    return catalog


def run(cat: Catalog, run_id: str) -> dict:
    return pipeline.run_all(run_id, cat.now(), settings=load_settings(), use_clip=False)


def store():
    settings = load_settings()
    return vector_store_from_settings(settings, database_url(settings))


def writes_since(server: PineconeTestServer, mark: int) -> list:
    return [c for c in server.log[mark:] if c.path in WRITES]


def test_runs_mirror_upserts_metadata_and_deletes_into_the_version_namespace(cat, server):
    run(cat, "r1")
    vs = store()
    index = vs.active_index("text")
    held = server.vectors("products", index.name)
    assert sorted(held) == sorted(["A", "B", "C", "D", "E", "F", ODD_ID])
    skus, matrix = vs.vectors(index)
    for sku, vector in zip(skus, matrix, strict=True):
        record = held[ODD_ID if sku == ODD_SKU else sku]
        np.testing.assert_allclose(record.values, vector, atol=1e-6)
    stored = dict(cat.sql(f"SELECT sku, content_hash FROM enrichment.vec_{index.name}"))
    assert held["B"].metadata == {
        "category": "Dresses",
        "brand": "Acme",
        "price": 10.0,
        "active": True,
        "model_id": index.model_id,
        "content_hash": stored["B"],
    }
    assert (
        server.vectors("products", "enrichment-active")["text"].metadata["namespace"] == index.name
    )
    assert {c.headers["x-pinecone-api-version"] for c in server.log} == {"2026-07"}

    # a consumer queries the namespace with a metadata filter, as production would
    from pinecone import Pinecone

    consumer = Pinecone(api_key=server.api_key, host=server.control_url).index(name="products")
    answer = consumer.query(
        id="A", top_k=10, namespace=index.name, filter={"category": {"$eq": "T-Shirts"}}
    )
    assert sorted(m.id for m in answer.matches) == [ODD_ID, "A"]
    top = [m.id for m in consumer.query(id="A", top_k=3, namespace=index.name).matches]
    assert top[0] == "A"
    assert {sku_of(i) for i in top[1:]} == {n.sku for n in vs.similar("text", "A", k=2, exact=True)}

    mark = len(server.log)  # metadata only: set_metadata per id, no upsert
    cat.set_price("B", 12.5)
    run(cat, "r2")
    assert [(c.path, c.body["id"]) for c in writes_since(server, mark)] == [
        ("/vectors/update", "B")
    ]
    assert server.vectors("products", index.name)["B"].metadata["price"] == 12.5

    mark = len(server.log)  # an empty field: set_metadata cannot clear one, re-sent whole
    cat.set_price("F", 7.0)
    run(cat, "r3")
    assert [(c.path, [v["id"] for v in c.body["vectors"]]) for c in writes_since(server, mark)] == [
        ("/vectors/upsert", ["F"])
    ]
    meta = server.vectors("products", index.name)["F"].metadata
    assert meta["price"] == 7.0 and "category" not in meta

    mark = len(server.log)  # text change: one upsert of that SKU
    cat.set_title("C", "Slim chino pants")
    run(cat, "r4")
    assert [(c.path, [v["id"] for v in c.body["vectors"]]) for c in writes_since(server, mark)] == [
        ("/vectors/upsert", ["C"])
    ]
    np.testing.assert_allclose(
        server.vectors("products", index.name)["C"].values, vs.vector_of(index, "C"), atol=1e-6
    )

    cat.soft_delete("D")
    cat.hard_delete(ODD_SKU)
    run(cat, "r5")
    assert sorted(server.vectors("products", index.name)) == ["A", "B", "C", "E", "F"]

    mark = len(server.log)
    run(cat, "r6")  # nothing changed: nothing written
    assert writes_since(server, mark) == []
    sinks = platform_status(load_settings())["sinks"]["pinecone"]
    assert sinks["text"] == {
        "index": "products",
        "namespace": index.name,
        "vectors": 5,
        "marker": index.name,
    }


def test_rate_limits_are_retried_by_the_sdk_alone_then_fail_the_shard(cat, server):
    server.fail_next(429, times=4, path="/describe_index_stats")  # beyond the SDK's 3 retries
    with pytest.raises(SinkError, match="describe_index_stats failed after 4 attempts"):
        run(cat, "r1")  # no second retry loop on top: the orchestrator retries the shard
    assert len(server.calls("/describe_index_stats", ok=False)) == 4

    server.fail_next(429, times=2, path="/vectors/upsert")
    server.fail_next(429, times=3, path="/describe_index_stats")  # within the SDK's retries
    run(cat, "r1")
    assert cat.sql("SELECT status FROM enrichment.runs") == [("committed",)]
    index = store().active_index("text")
    assert len(server.vectors("products", index.name)) == 7
    assert len(server.calls("/vectors/upsert", ok=False)) == 2
    assert len(server.calls("/describe_index_stats", ok=False)) == 7


def test_persistent_server_errors_fail_the_shard_and_a_rerun_completes(cat, server):
    run(cat, "r1")
    vs = store()
    index = vs.active_index("text")
    before = dict(cat.sql(f"SELECT sku, content_hash FROM enrichment.vec_{index.name}"))
    cat.set_title("B", "Linen summer dress")
    cat.set_title("C", "Slim chino pants")
    server.fail_ids(["C"], status=503)  # every batch holding C fails; the others land
    with pytest.raises(
        SinkError,
        match=r"upsert of \d vectors into namespace \S+ \(SKUs [^)]*\bC\b[^)]*\) failed after 4",
    ):
        run(cat, "r2")
    after = dict(cat.sql(f"SELECT sku, content_hash FROM enrichment.vec_{index.name}"))
    assert after == before  # pgvector untouched: the retry re-embeds and re-sends both
    assert cat.sql("SELECT status FROM enrichment.runs WHERE run_id = 'r2'") == [("detected",)]

    server.clear_faults()
    run(cat, "r2")
    assert cat.sql("SELECT status FROM enrichment.runs WHERE run_id = 'r2'") == [("committed",)]
    held = server.vectors("products", index.name)
    for sku in ("B", "C"):
        np.testing.assert_allclose(held[sku].values, vs.vector_of(index, sku), atol=1e-6)
        assert held[sku].metadata["content_hash"] != before[sku]


def test_configuration_errors_name_the_setting(cat, server, monkeypatch):
    monkeypatch.setenv("ENRICHMENT_PINECONE_INDEX", "small")  # dimension 16, the model 32
    with pytest.raises(ConfigError, match="ENRICHMENT_PINECONE_INDEX.*dimension 16.*32"):
        run(cat, "r1")
    assert store().indexes() == []  # refused before pgvector created a version
    monkeypatch.delenv("ENRICHMENT_PINECONE_INDEX")
    monkeypatch.setenv("ENRICHMENT_PINECONE_HOST", server.host("small"))
    with pytest.raises(ConfigError, match="ENRICHMENT_PINECONE_HOST.*dimension 16"):
        store().ensure_index("text", "m", "p1", 32)
    monkeypatch.setenv("ENRICHMENT_PINECONE_INDEX", "missing")
    monkeypatch.delenv("ENRICHMENT_PINECONE_HOST")
    with pytest.raises(ConfigError, match="no Pinecone index 'missing'.*ENRICHMENT_PINECONE_INDEX"):
        store().ensure_index("text", "m", "p1", 32)
    monkeypatch.setenv("ENRICHMENT_PINECONE_API_KEY", "wrong")
    with pytest.raises(ConfigError, match="refused ENRICHMENT_PINECONE_API_KEY"):
        store().ensure_index("text", "m", "p1", 32)
    monkeypatch.delenv("ENRICHMENT_PINECONE_API_KEY")
    with pytest.raises(ConfigError, match="ENRICHMENT_PINECONE_API_KEY is not set"):
        store()
    monkeypatch.setenv("ENRICHMENT_VECTOR_SINKS", "pinecone,milvus")
    with pytest.raises(ConfigError, match="ENRICHMENT_VECTOR_SINKS: unknown vector sink 'milvus'"):
        store()


def test_blue_green_fills_a_namespace_switches_the_marker_and_drops_the_old(
    cat, server, models, monkeypatch, capsys
):
    run(cat, "r1")
    old = store().active_index("text")
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", str(models[1]))  # same dimension, new weights
    cat.set_title("A", "Classic organic cotton tee")
    run(cat, "r2")
    vs = store()
    new = next(i for i in vs.indexes("text") if i.state == "building")
    assert sorted(server.vectors("products", new.name)) == ["A"]
    fill(load_settings(), kinds=("text",), use_clip=False)
    assert len(server.vectors("products", new.name)) == 7
    cat.soft_delete("E")  # deletes reach both namespaces while both versions exist
    run(cat, "r3")
    assert "E" not in server.vectors("products", old.name)
    assert "E" not in server.vectors("products", new.name)

    server.remove("products", new.name, "B")  # the sink lost a vector: no switch
    with pytest.raises(SwitchRefused, match="pinecone namespace .* holds 5 vectors, pgvector 6"):
        switch(load_settings(), kind="text")
    assert main(["vector-sinks", "check"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["sink_vectors"], r["pgvector"], r["ok"]) for r in report] == [
        (old.name, 6, 6, True),
        (new.name, 5, 6, False),
    ]
    assert main(["vector-sinks", "sync", "--name", new.name]) == 0
    assert json.loads(capsys.readouterr().out) == {
        new.name: {"pinecone": {"sent": 1, "deleted": 0}}
    }

    result = switch(load_settings(), kind="text")
    assert result["active"] == new.name
    marker = server.vectors("products", "enrichment-active")["text"].metadata
    assert marker["namespace"] == new.name and marker["model_id"] == new.model_id
    assert drop(load_settings(), [old.name]) == {"dropped": [old.name]}
    assert set(server.namespaces("products")) == {new.name, "enrichment-active"}
    assert main(["vector-sinks", "check"]) == 0


def test_a_model_of_another_dimension_moves_to_the_index_of_its_dimension(cat, models, monkeypatch):
    with PineconeTestServer({"products-32": 32, "products-24": 24}) as srv:
        monkeypatch.setenv("ENRICHMENT_PINECONE_CONTROLLER_HOST", srv.control_url)
        monkeypatch.setenv("ENRICHMENT_PINECONE_INDEX", "products-{dim}")
        run(cat, "r1")
        old = store().active_index("text")
        monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", str(models[2]))  # 24 dimensions
        cat.soft_delete("E")
        run(cat, "r2")
        fill(load_settings(), kinds=("text",), use_clip=False)
        new = next(i for i in store().indexes("text") if i.state == "building")
        assert len(srv.vectors("products-24", new.name)) == 6
        assert "E" not in srv.vectors("products-32", old.name)  # deletes reach both indexes

        switch(load_settings(), kind="text")
        for index in ("products-32", "products-24"):  # a consumer of either finds the new one
            marker = srv.vectors(index, "enrichment-active")["text"].metadata
            assert (marker["namespace"], marker["index"]) == (new.name, "products-24")
        drop(load_settings(), [old.name])
        assert srv.namespaces("products-32") == {"enrichment-active": 1}
        sink = platform_status(load_settings())["sinks"]["pinecone"]["text"]
        assert sink == {"index": "products-24", "namespace": new.name, "vectors": 6,
                        "marker": new.name}  # fmt: skip


def test_quality_store_counts_ask_the_sink(cat, server, monkeypatch):
    from enrichment.quality.evaluate import run_quality

    monkeypatch.setenv("ENRICHMENT_QUALITY_MIN_POPULATION", "1000")  # judge counts only
    run(cat, "r1")
    checks = {c.name: c for c in run_quality("r1", docs=False, report=False).checks}
    assert checks["consistency.store_counts"].outcome == "pass"
    index = store().active_index("text")
    server.remove("products", index.name, "C")
    checks = {c.name: c for c in run_quality("r1", docs=False, report=False).checks}
    assert checks["consistency.store_counts"].outcome == "fail"
    assert "vector sink pinecone (text)" in checks["consistency.store_counts"].observed_text


def test_the_sink_lists_counts_and_marks_the_skus_of_a_version(cat):
    from enrichment.vectors.pinecone_sink import PineconeVectorSink

    run(cat, "r1")
    mirrored = store()
    (sink,) = mirrored.sinks
    assert isinstance(sink, PineconeVectorSink) and sink.name == "pinecone"
    index = mirrored.active_index("text")
    assert sink.mirrors(index) and sink.active_namespace(index) == index.name
    assert set(sink.list_skus(index)) == {"A", "B", "C", "D", "E", "F", ODD_SKU}
    assert sink.count(index) == 7 and sink.count_skus("text") == 7
