"""pgvector writes: the text form of vectors, deletes across versions, metadata refresh."""

from __future__ import annotations

import numpy as np
import pytest

from enrichment.vectors.records import VectorRecord
from enrichment.vectors.writes import PgVectorWrites, vector_literal
from tests.integration.vectors.test_store import rows, store  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration
DIM = 4


def _rec(sku: str, k: int, **meta) -> VectorRecord:
    vec = np.zeros(DIM, dtype=np.float32)
    vec[k % DIM] = 1.0
    return VectorRecord(sku, vec, f"h-{sku}", {"category": "tees", **meta})


def test_vector_literal_is_pgvectors_text_form():
    assert vector_literal(np.array([1, 0.5, -0.25, 1 / 3])) == "[1,0.5,-0.25,0.3333333]"


def test_deletes_reach_every_version_or_one_and_metadata_is_refreshed(store):  # noqa: F811
    assert isinstance(store, PgVectorWrites)
    text = store.ensure_index("text", "model-a", "p", DIM)
    other = store.ensure_index("text", "model-b", "p", DIM)
    records = [_rec(s, i) for i, s in enumerate("ABC")]
    store.upsert(text, records)
    store.upsert(other, records)
    assert store.delete_from(other, ["A"]) == 1
    assert store.delete(["B", "nope"]) == 2  # B from both versions
    assert sorted(rows(store, text)) == ["A", "C"] and sorted(rows(store, other)) == ["C"]
    assert store.delete([]) == 0 and store.update_metadata("text", {}) == 0
    updated = store.update_metadata(
        "text", {"C": {"category": "dresses", "brand": "Acme", "price": 9.5, "active": False}}
    )
    assert updated == 2  # C in both versions
    _, _, _, category, brand, price, active = rows(store, other)["C"]
    assert (category, brand, float(price), active) == ("dresses", "Acme", 9.5, False)
