"""Documents read through the mapping: pages never split the documents of one key."""

from __future__ import annotations

import pytest

from enrichment.cdc import documents, source
from enrichment.db.connection import connect
from enrichment.orchestration import pipeline
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration


@pytest.fixture
def recreated(platform_db):
    """A, B (deleted, then re-created with a new id), C, D: B's two rows are adjacent."""
    cat = Catalog(platform_db)
    cat.sql("ALTER TABLE catalog.products DROP CONSTRAINT products_sku_key")
    cat.add("A", "Red cotton tee", "red")
    cat.add("B", "Blue summer dress", "blue", category="Dresses")
    cat.soft_delete("B")
    cat.add("B", "Blue summer dress (new)", "blue", category="Dresses")
    cat.add("C", "Green chinos", "green", category="Pants")
    cat.add("D", "Black wool hat", "black", category="Hats")
    return cat


@pytest.mark.parametrize("page_size", [1, 2, 3, 5000])
def test_every_document_is_read_once_whatever_the_page_size(recreated, page_size):
    mapping = source.mapping_for(recreated.settings)
    with connect(recreated.settings.database_url) as conn:
        docs = list(documents.scan_documents(conn, mapping, page_size=page_size))
    assert sorted((d.sku, d.active) for d in docs) == [
        ("A", True), ("B", False), ("B", True), ("C", True), ("D", True),
    ]  # fmt: skip


@pytest.mark.parametrize("batch", [1, 2, 5000])
def test_documents_of_keys_are_read_once_across_batches(recreated, batch, monkeypatch):
    monkeypatch.setattr(documents, "FIRST_BATCH", 1)  # batches of 1, 2, 4.. up to batch
    mapping = source.mapping_for(recreated.settings)
    with connect(recreated.settings.database_url) as conn:
        docs = list(documents.read_documents(conn, mapping, ["D", "B", "A", "gone", "B"], batch))
    assert [(d.sku, d.active) for d in docs if d.sku != "B"] == [("A", True), ("D", True)]
    assert sorted(d.active for d in docs if d.sku == "B") == [False, True]  # adjacent, both


def test_key_batches_grow_to_the_batch_size_and_cover_every_key_once():
    keys = [f"K{n:05d}" for n in range(12_345)]
    parts = list(documents._ramped(keys, 5000))
    assert [len(p) for p in parts] == [500, 1000, 2000, 4000, 4845]
    assert [k for p in parts for k in p] == keys
    assert list(documents._ramped([], 5000)) == []
    assert [len(p) for p in documents._ramped(keys[:7], 3)] == [3, 3, 1]


def test_a_recreated_sku_is_processed_as_the_active_product(recreated):
    summary = pipeline.run_all("r1", recreated.now(), settings=recreated.settings, use_clip=False)
    assert summary["changes"] == {"new": 4}
    assert summary["input_problems"] == []  # one active row: not a duplicate
    titles = recreated.sql("SELECT title FROM enrichment.product_docs WHERE sku = 'B' AND active")
    assert titles == [("Blue summer dress (new)",)]
