"""The Elasticsearch tag sink through the official client against the local ES server.

No database: settings and their errors, bulk chunking, retry and resend rules, strict
mapping errors, credentials, unreachable clusters, metadata updates of missing
documents, deletes in every version index, and counts that need a refresh.
"""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from enrichment.config import ConfigError
from enrichment.tags.documents import ProductDoc, TagDocument
from enrichment.tags.es_bulk import EsWriteError
from enrichment.tags.es_sink import ElasticsearchTagSink, EsConfig
from enrichment.tags.factory import tag_store_from_settings
from enrichment.tags.store import MirroredTagStore, PostgresTagStore
from tests.fakes.es_server import EsServer

pytestmark = pytest.mark.unit


@pytest.fixture
def es():
    server = EsServer().start()
    yield server
    server.stop()


def _sink(url: str, **kw) -> ElasticsearchTagSink:
    bulk = {k: kw.pop(k) for k in ("bulk_docs", "bulk_bytes") if k in kw}
    return ElasticsearchTagSink(
        EsConfig(url=url, max_retries=2, backoff_seconds=0.001, **kw), **bulk
    )


def _docs(skus, version="v1", active=True) -> list[TagDocument]:
    return [
        TagDocument(
            ProductDoc(s, f"title {s}", "Acme", "T-Shirts", 10.0, 3, active),
            [{"attribute": "color", "value": "red", "confidence": 0.9, "sources": ["pixels"]}],
            version,
            "none",
            f"h{s}",
            "r1",
        )
        for s in skus
    ]


def test_settings_errors_name_the_variable(monkeypatch):
    monkeypatch.delenv("ENRICHMENT_ES_URL", raising=False)
    with pytest.raises(ConfigError, match="ENRICHMENT_ES_URL"):
        EsConfig.from_env()
    monkeypatch.setenv("ENRICHMENT_ES_URL", "http://localhost:9200")
    monkeypatch.setenv("ENRICHMENT_ES_USERNAME", "elastic")
    with pytest.raises(ConfigError, match="ENRICHMENT_ES_PASSWORD"):
        EsConfig.from_env()
    monkeypatch.delenv("ENRICHMENT_ES_USERNAME")
    monkeypatch.setenv("ENRICHMENT_ES_INDEX_PREFIX", "Catalog Tags")
    with pytest.raises(ConfigError, match="ENRICHMENT_ES_INDEX_PREFIX"):
        EsConfig.from_env()
    monkeypatch.setenv("ENRICHMENT_ES_INDEX_PREFIX", "shop-tags")
    monkeypatch.setenv("ENRICHMENT_ES_TIMEOUT_SECONDS", "soon")
    with pytest.raises(ConfigError, match="ENRICHMENT_ES_TIMEOUT_SECONDS"):
        EsConfig.from_env()
    monkeypatch.setenv("ENRICHMENT_ES_TIMEOUT_SECONDS", "5")
    assert EsConfig.from_env().prefix == "shop-tags"

    settings = SimpleNamespace(state_schema="enrichment")
    monkeypatch.setenv("ENRICHMENT_TAG_SINKS", "elasticsearch, solr")
    with pytest.raises(ConfigError, match="ENRICHMENT_TAG_SINKS: 'solr'"):
        tag_store_from_settings(settings, "postgresql://x/y")
    monkeypatch.setenv("ENRICHMENT_TAG_SINKS", "elasticsearch")
    store = tag_store_from_settings(settings, "postgresql://x/y")
    assert isinstance(store, MirroredTagStore) and isinstance(store.primary, PostgresTagStore)
    assert [s.name for s in store.sinks] == ["elasticsearch"]
    monkeypatch.setenv("ENRICHMENT_TAG_SINKS", "")
    assert isinstance(tag_store_from_settings(settings, "postgresql://x/y"), PostgresTagStore)


def test_bulk_is_chunked_by_documents_and_by_bytes(es):
    sink = _sink(es.url, bulk_docs=2)
    assert sink.replace_tags(_docs(["A", "B", "C", "D", "E"])) == 5
    assert [len(r.actions) for r in es.requests if r.actions] == [2, 2, 1]
    es.requests.clear()
    sink = _sink(es.url, bulk_bytes=1000)  # two documents of about 400 bytes
    sink.replace_tags(_docs(["A", "B", "C", "D", "E"]))
    bulks = [r for r in es.requests if r.actions]
    assert [len(r.actions) for r in bulks] == [2, 2, 1]
    assert all(r.size <= 1000 for r in bulks)


def test_items_still_rejected_after_the_retries_fail_with_sku_and_error_type(es):
    sink = _sink(es.url)
    es.fail_bulk_items({"B"}, status=429, times=None)
    with pytest.raises(EsWriteError, match=r"after 2 retries: B: 429 es_rejected_execution"):
        sink.replace_tags(_docs(["A", "B", "C"]))
    assert [sorted(a[2] for a in r.actions) for r in es.requests if r.actions] == [
        ["A", "B", "C"],
        ["B"],
        ["B"],
    ]
    assert set(es.docs("catalog-tags")) == {"A", "C"}


def test_request_level_errors_retry_5xx_and_dropped_connections_not_other_4xx(es):
    sink = _sink(es.url)
    sink.replace_tags(_docs(["A"]))
    es.fail_next(status=503, times=1)
    es.disconnect_next(times=1)
    assert sink.update_metadata([ProductDoc("A", price=12.0)]) == 1
    assert sink.stats["retries"] == 2
    es.fail_next(status=503, times=5)
    with pytest.raises(EsWriteError, match="after 2 retries: A: 503"):
        sink.delete(["A"])
    es.clear_faults()
    es.fail_next(status=413, times=1, error_type="request_entity_too_large")
    with pytest.raises(EsWriteError, match="413"):
        sink.delete(["A"])
    assert es.docs("catalog-tags")["A"]["price"] == 12.0


def test_strict_mapping_rejects_an_unknown_field_without_retrying(es):
    sink = _sink(es.url)
    index = sink.ensure_index("v1")
    with pytest.raises(EsWriteError, match="strict_dynamic_mapping_exception") as failed:
        sink.es.bulk([({"index": {"_index": index, "_id": "A"}}, {"sku": "A", "colour": "red"})])
    assert list(failed.value.failures) == ["A"]
    assert len([r for r in es.requests if r.actions]) == 1


def test_credentials_are_sent_and_a_refusal_names_the_settings(es):
    es.authorization = "ApiKey c2VjcmV0"
    with pytest.raises(ConfigError, match="ENRICHMENT_ES_API_KEY"):
        _sink(es.url).replace_tags(_docs(["A"]))
    assert _sink(es.url, api_key="c2VjcmV0").replace_tags(_docs(["A"])) == 1


def test_an_unreachable_cluster_names_the_url_setting():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EsWriteError, match=r"ENRICHMENT_ES_URL=http://127.0.0.1:\d+ is unreach"):
        _sink(f"http://127.0.0.1:{port}").count_skus()


def test_metadata_updates_and_deletes_reach_every_version_index_of_the_prefix(es):
    sink = _sink(es.url)
    other = _sink(es.url, prefix="catalog-tags-eu")  # shares the index pattern
    sink.replace_tags(_docs(["A", "B"], "v1"))
    sink.replace_tags(_docs(["A"], "v2"))
    other.replace_tags(_docs(["A"], "v1"))
    assert sink.update_metadata([ProductDoc("A", price=9.5), ProductDoc("Z", price=1.0)]) == 2
    assert sink.stats["update_missing"] == 2  # Z has no document yet in either index
    assert (
        es.docs("catalog-tags-v1")["A"]["price"] == es.docs("catalog-tags-v2")["A"]["price"] == 9.5
    )
    assert es.docs("catalog-tags-v1")["A"]["tags"][0]["value"] == "red"  # tags untouched
    assert sink.delete(["A", "Q"]) == 2
    assert set(es.docs("catalog-tags-v1")) == {"B"} and es.docs("catalog-tags-v2") == {}
    assert set(es.docs("catalog-tags-eu-v1")) == {"A"}  # another prefix is left alone
    assert es.alias("catalog-tags") == {"catalog-tags-v1"}  # only the first index aliased


def test_count_refreshes_and_counts_only_active_documents(es):
    sink = _sink(es.url)
    sink.replace_tags(_docs(["A", "B", "C"]) + _docs(["D"], active=False))
    assert es.engine.count("catalog-tags", None) == 0  # not searchable before a refresh
    assert sink.count_skus() == 3
    assert sink.count_skus(index="catalog-tags-v1") == 3
