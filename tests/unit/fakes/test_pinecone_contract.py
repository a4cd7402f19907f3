"""Contract of the Pinecone test server: the official SDK's documented shapes.

The vector sink's tests trust ``tests.fakes.pinecone_server``; these tests keep it honest.
Each drives the real ``pinecone`` SDK against the server and checks what the SDK makes of
the answers (its typed responses and errors), plus the raw shapes of Pinecone's REST
reference: an upsert count, index stats per namespace, a rate limit (429 with
Retry-After) that the SDK retries, and a partial failure of a batched upsert that the
SDK reports per batch and lets the caller resend.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from pinecone import Pinecone, RateLimitError

from tests.fakes.pinecone_server import PineconeTestServer

pytestmark = pytest.mark.unit
DIM = 4


@pytest.fixture
def server():
    with PineconeTestServer({"products": DIM}) as srv:
        yield srv


def index(server: PineconeTestServer):
    pc = Pinecone(api_key=server.api_key, host=server.control_url)
    return pc.index(host=server.host("products"))


def vectors(ids: str) -> list[dict]:
    return [
        {"id": i, "values": [float(n + 1), 0.0, 0.0, 1.0], "metadata": {"brand": "acme"}}
        for n, i in enumerate(ids)
    ]


def raw(server: PineconeTestServer, path: str, body: dict) -> tuple[int, dict, dict]:
    req = urllib.request.Request(
        server.host("products") + path,
        data=json.dumps(body).encode(),
        headers={"Api-Key": server.api_key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_upsert_stats_fetch_and_list_parse_into_the_sdk_types(server):
    idx = index(server)
    assert idx.upsert(vectors=vectors("abc"), namespace="v1").upserted_count == 3
    stats = idx.describe_index_stats()
    assert stats.dimension == DIM and stats.namespaces["v1"].vector_count == 3
    fetched = idx.fetch(ids=["b"], namespace="v1").vectors["b"]
    assert list(fetched.values) == [2.0, 0.0, 0.0, 1.0] and fetched.metadata == {"brand": "acme"}
    page = idx.list_paginated(namespace="v1", limit=2)
    assert [v.id for v in page.vectors] == ["a", "b"] and page.pagination.next
    rest = idx.list_paginated(namespace="v1", limit=2, pagination_token=page.pagination.next)
    assert [v.id for v in rest.vectors] == ["c"] and not rest.pagination


def test_raw_answers_have_the_documented_fields(server):
    status, _, body = raw(server, "/vectors/upsert", {"vectors": vectors("a"), "namespace": ""})
    assert (status, body) == (200, {"upsertedCount": 1})
    status, _, body = raw(server, "/describe_index_stats", {})
    assert status == 200 and {"namespaces", "dimension", "totalVectorCount"} <= set(body)
    assert body["namespaces"]["__default__"] == {"vectorCount": 1}  # the default namespace
    server.fail_next(429, times=1, path="/vectors/upsert", retry_after="7")
    status, headers, body = raw(server, "/vectors/upsert", {"vectors": vectors("a")})
    assert status == 429 and headers.get("Retry-After") == "7"
    assert isinstance(body.get("code"), int) and isinstance(body.get("message"), str)


def test_a_rate_limit_with_retry_after_is_retried_by_the_sdk_then_surfaces_typed(server):
    idx = index(server)
    server.fail_next(429, times=2, path="/vectors/upsert")
    assert idx.upsert(vectors=vectors("ab"), namespace="v1").upserted_count == 2
    assert [c.status for c in server.calls("/vectors/upsert")] == [429, 429, 200]
    server.fail_next(429, times=None, path="/vectors/upsert")
    with pytest.raises(RateLimitError) as limited:
        idx.upsert(vectors=vectors("c"), namespace="v1")
    assert limited.value.status_code == 429
    assert len(server.calls("/vectors/upsert", ok=False)) == 2 + 4  # 1 + the SDK's 3 retries


def test_a_partial_batch_failure_is_reported_per_batch_and_can_be_resent(server):
    idx = index(server)
    server.fail_ids(["c"], status=400)  # a deterministic failure: not retried by the SDK
    resp = idx.upsert(vectors=vectors("abcdef"), namespace="v1", batch_size=2, show_progress=False)
    assert resp.has_errors and resp.upserted_count == 4 and resp.failed_item_count == 2
    assert sorted(v["id"] for v in resp.failed_items) == ["c", "d"]
    assert sorted(server.vectors("products", "v1")) == ["a", "b", "e", "f"]
    server.clear_faults()
    assert idx.upsert(vectors=resp.failed_items, namespace="v1").upserted_count == 2
    assert sorted(server.vectors("products", "v1")) == list("abcdef")
