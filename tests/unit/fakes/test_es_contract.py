"""Contract of the Elasticsearch test server: the official client's documented shapes.

The sink's tests trust ``tests.fakes.es_server``; these tests keep it honest. Each one
drives the real ``elasticsearch`` client (and ``helpers.streaming_bulk``) against the
server and compares the answer with the response shapes of the Elasticsearch 9 REST
reference: a bulk response with per-item errors, a whole request rejected with 429, a
partial failure that the bulk helper resends. A field the fake drops, renames or
retypes fails here before it can make a sink test pass for the wrong reason.
"""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.helpers import streaming_bulk

from tests.fakes.es_server import EsServer

pytestmark = pytest.mark.unit

# From the Bulk API reference (response body, "errors": true example).
DOCUMENTED_BULK = {
    "took": 486,
    "errors": True,
    "items": [
        {
            "update": {
                "_index": "index1",
                "_id": "5",
                "status": 404,
                "error": {"type": "document_missing_exception", "reason": "[5]: document missing"},
            }
        },
        {
            "index": {
                "_index": "index1",
                "_id": "7",
                "_version": 1,
                "result": "created",
                "_shards": {"total": 2, "successful": 1, "failed": 0},
                "_seq_no": 0,
                "_primary_term": 1,
                "status": 201,
            }
        },
    ],
}
# From the common error response ("error" object with root_cause, type, reason; status).
DOCUMENTED_ERROR = {
    "error": {
        "root_cause": [{"type": "es_rejected_execution_exception", "reason": "rejected"}],
        "type": "es_rejected_execution_exception",
        "reason": "rejected",
    },
    "status": 429,
}


def shape(value):
    """Keys and value types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return (
        "number"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else (type(value).__name__)
    )


def covers(actual, documented) -> list[str]:
    """Documented fields missing from ``actual`` or of another type ("" when none)."""
    problems = []
    if isinstance(documented, dict):
        for key, sub in documented.items():
            if not isinstance(actual, dict) or key not in actual:
                problems.append(f"missing {key}")
            else:
                problems += [f"{key}.{p}" for p in covers(actual[key], sub)]
    elif isinstance(documented, list):
        if documented and actual:
            problems += covers(actual[0], documented[0])
    elif actual != documented:
        problems.append(f"{actual} instead of {documented}")
    return problems


@pytest.fixture
def es():
    server = EsServer().start()
    yield server
    server.stop()


def client(es: EsServer, **kw) -> Elasticsearch:
    return Elasticsearch(es.url, **{"max_retries": 0, "retry_on_status": (), **kw})


def test_bulk_item_errors_have_the_documented_shape(es):
    es_client = client(es)
    es_client.indices.create(index="index1")
    es.fail_bulk_items({"7"}, status=429, times=1)
    resp = es_client.bulk(
        operations=[
            {"update": {"_index": "index1", "_id": "5"}},
            {"doc": {"a": 1}},
            {"index": {"_index": "index1", "_id": "6"}},
            {"a": 1},
            {"index": {"_index": "index1", "_id": "7"}},
            {"a": 2},
        ]
    )
    body = resp.body
    assert not covers(
        shape(body), shape({k: v for k, v in DOCUMENTED_BULK.items() if k != "items"})
    )
    missing, created, rejected = (next(iter(i.items())) for i in body["items"])
    assert missing[0] == "update" and not covers(
        shape(missing[1]), shape(DOCUMENTED_BULK["items"][0]["update"])
    )
    assert missing[1]["error"]["type"] == "document_missing_exception"
    success = shape(DOCUMENTED_BULK["items"][1]["index"])
    assert created[0] == "index" and not covers(shape(created[1]), success)
    assert created[1]["status"] == 201 and created[1]["result"] == "created"
    assert rejected[1]["status"] == 429 and rejected[1]["error"]["type"] == (
        "es_rejected_execution_exception"
    )
    assert body["errors"] is True


def test_a_rejected_request_is_the_documented_error_and_the_client_parses_it(es):
    es.fail_next(status=429, times=1, path="_count")
    with pytest.raises(ApiError) as failed:
        client(es).count(index="nothing-yet")
    assert failed.value.status_code == 429
    assert failed.value.message == "es_rejected_execution_exception"  # the client's parse
    assert not covers(shape(failed.value.body), shape(DOCUMENTED_ERROR))
    assert failed.value.meta.headers.get("X-Elastic-Product") == "Elasticsearch"


def test_the_transport_retries_a_429_request_the_way_it_is_configured(es):
    es.fail_next(status=429, times=2, path="_count")
    es_client = client(es, max_retries=2, retry_on_status=(429,))
    es_client.indices.create(index="i")
    assert es_client.count(index="i")["count"] == 0
    assert [r.status for r in es.requests if r.path.endswith("_count")] == [429, 429, 200]


def test_streaming_bulk_resends_only_the_failed_items_of_a_partial_failure(es):
    es_client = client(es)
    es.fail_bulk_items({"b"}, status=429, times=1)
    es.fail_bulk_items({"c"}, status=400, times=None, error_type="document_parsing_exception")
    actions = [{"_index": "p", "_id": i, "_source": {"n": n}} for n, i in enumerate("abcd")]
    results = list(
        streaming_bulk(
            es_client,
            actions,
            max_retries=2,
            initial_backoff=0.001,
            raise_on_error=False,
            raise_on_exception=False,
        )
    )
    bulks = [sorted(a[2] for a in r.actions) for r in es.requests if r.actions]
    assert bulks == [["a", "b", "c", "d"], ["b"]]  # the 429 is resent, the 400 is not
    outcome = {next(iter(item.values()))["_id"]: ok for ok, item in results}
    assert outcome == {"a": True, "b": True, "c": False, "d": True}
    assert set(es.docs("p")) == {"a", "b", "d"}


def test_a_whole_bulk_rejected_with_429_becomes_item_errors_in_the_helper(es):
    es.fail_next(status=429, times=1, path="_bulk")
    results = list(
        streaming_bulk(
            client(es),
            [{"_index": "p", "_id": "a", "_source": {}}],
            max_retries=1,
            initial_backoff=0.001,
            raise_on_error=False,
            raise_on_exception=False,
        )
    )
    assert [ok for ok, _ in results] == [True]
    assert [r.status for r in es.requests if r.path.endswith("_bulk")] == [429, 200]
