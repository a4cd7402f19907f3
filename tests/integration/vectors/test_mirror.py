"""pgvector mirrored into Pinecone: the sink report, and a resync that repairs a sink."""

from __future__ import annotations

import pytest

from enrichment.config import ConfigError
from enrichment.vectors import mirror
from tests.integration.vectors.test_pinecone_sink import (  # noqa: F401 (fixtures)
    ODD_SKU,
    cat,
    models,
    run,
    server,
    store,
)

pytestmark = pytest.mark.integration


def test_a_sink_missing_vectors_is_reported_and_resync_repairs_it(cat):  # noqa: F811
    run(cat, "r1")
    mirrored = store()
    assert isinstance(mirrored, mirror.MirroredVectorStore) and mirror.sink_names() == ["pinecone"]
    (row,) = mirror.sink_report(mirrored)
    assert row["ok"] and row["sink_vectors"] == row["pgvector"] == 7
    index = mirrored.active_index("text")
    assert row["marker"] == index.name
    (sink,) = mirrored.sinks
    sink.delete([index], ["A", ODD_SKU])
    (row,) = mirror.sink_report(mirrored)
    assert not row["ok"] and row["sink_vectors"] == 5
    assert mirror.resync(mirrored, index) == {"pinecone": {"sent": 2, "deleted": 0}}
    assert mirror.sink_report(mirrored)[0]["ok"]
    (record,) = mirror.stored_records(mirrored.primary, index, skus=["A"])
    assert record.sku == "A" and record.vector.shape == (32,)
    assert record.metadata == {"category": "T-Shirts", "brand": "Acme", "price": 10.0,
                               "active": True}  # fmt: skip


def test_unknown_sinks_are_refused_by_name(monkeypatch):
    monkeypatch.setenv("ENRICHMENT_VECTOR_SINKS", "pinecone, milvus")
    with pytest.raises(ConfigError, match="unknown vector sink 'milvus'"):
        mirror.sink_names()
    monkeypatch.setenv("ENRICHMENT_VECTOR_SINKS", "")
    assert mirror.sink_names() == []
