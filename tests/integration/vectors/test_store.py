"""The pgvector store on the embedded PostgreSQL: upserts, deletes, metadata, filtered kNN."""

from __future__ import annotations

import numpy as np
import pytest

from enrichment.db.connection import connect
from enrichment.vectors.query import UnknownSku, knn
from enrichment.vectors.records import VectorRecord
from enrichment.vectors.store import PgVectorStore

pytestmark = pytest.mark.integration
DIM = 16


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


@pytest.fixture
def store(platform_db):
    from enrichment.db.connection import database_url

    return PgVectorStore(database_url(platform_db), platform_db.state_schema)


def rec(sku: str, vec, h: str = "h", **meta) -> VectorRecord:
    meta.setdefault("category", "tees")
    return VectorRecord(sku, np.asarray(vec, np.float32), h, meta)


def rows(store: PgVectorStore, index) -> dict:
    with connect(store.url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT sku, embedding::real[], model_id, content_hash, category, brand, "
            f"price, active FROM {index.table(store.schema)} ORDER BY sku"
        )
        return {r[0]: r[1:] for r in cur.fetchall()}


def test_values_and_copy_upserts_store_the_same_rows(store):
    rng = np.random.default_rng(0)
    vecs = unit(rng.standard_normal((300, DIM)))
    recs = [
        rec(
            f"S{i:03d}",
            v,
            f"h{i}",
            brand="Việt Tiến" if i % 2 else None,
            price=None if i % 3 else 12.345 + i,
            active=bool(i % 5),
        )
        for i, v in enumerate(vecs)
    ]
    a = store.ensure_index("text", "model-a", "p", DIM)
    b = store.ensure_index("text", "model-b", "p", DIM)
    assert (a.state, b.state) == ("active", "building")
    assert store.upsert(a, recs, method="values") == 300
    assert store.upsert(b, recs, method="copy") == 300
    ra, rb = rows(store, a), rows(store, b)
    assert ra.keys() == rb.keys() and len(ra) == 300
    for sku in ra:
        assert np.allclose(ra[sku][0], rb[sku][0], atol=1e-6)
        assert ra[sku][2:] == rb[sku][2:]  # hash, category, brand, price, active
    assert rb["S001"][1] == "model-b" and rb["S001"][4] == "Việt Tiến"
    assert float(rb["S000"][5]) == 12.35  # numeric(12, 2)
    # replacing rows, duplicates in one batch: the last one wins
    newer = [rec("S000", vecs[1], "x1"), rec("S000", vecs[2], "x2"), rec("NEW", vecs[3], "n")]
    assert store.upsert(b, newer * 100, method="copy") == 2
    assert store.content_hashes(b, ["S000", "NEW", "S001", "nope"]) == {
        "S000": "x2",
        "NEW": "n",
        "S001": "h1",
    }
    with pytest.raises(ValueError, match="expects"):
        store.upsert(a, [rec("BAD", np.ones(DIM + 1))])


def test_deletes_and_metadata_reach_every_version_and_kind(store):
    v = unit(np.eye(DIM)[:3])
    text_a = store.ensure_index("text", "model-a", "p", DIM)
    text_b = store.ensure_index("text", "model-b", "p", DIM)
    image = store.ensure_index("image", "clip", "img1", DIM)
    for index in (text_a, text_b, image):
        store.upsert(index, [rec("A", v[0]), rec("B", v[1]), rec("C", v[2])])
    with connect(store.url) as conn, conn.cursor() as cur:  # a retired version still counts
        cur.execute(
            f"UPDATE {store.schema}.vector_indexes SET state = 'retired' WHERE name = %s",
            (text_a.name,),
        )
    assert (
        store.update_metadata(None, {"B": {"category": "dresses", "price": 5, "active": True}}) == 3
    )
    assert store.delete(["A", "ghost"]) == 3
    for index in (text_a, text_b, image):
        got = rows(store, index)
        assert sorted(got) == ["B", "C"] and got["B"][3] == "dresses" and got["B"][5] == 5


def test_filtered_knn_and_similar(store):
    rng = np.random.default_rng(1)
    base = unit(rng.standard_normal(DIM))
    vecs = unit(base + 0.4 * rng.standard_normal((60, DIM)))
    recs = [
        rec(f"P{i:02d}", v, category="tees" if i % 3 else "hats", price=float(i), active=i != 7)
        for i, v in enumerate(vecs)
    ]
    index = store.ensure_index("text", "m", "p", DIM)
    store.upsert(index, recs)
    sims = vecs @ vecs[0]

    def truth(mask) -> list[str]:
        order = [i for i in np.argsort(-sims) if mask(i) and i != 0]
        return [f"P{i:02d}" for i in order[:5]]

    found = store.similar("text", "P00", k=5)
    assert [n.sku for n in found] == truth(lambda i: i != 7)
    assert found[0].score == pytest.approx(float(sims[int(found[0].sku[1:])]), abs=1e-5)
    assert [n.score for n in found] == sorted((n.score for n in found), reverse=True)
    hats = store.similar("text", "P00", k=5, category="hats", min_price=10, max_price=40)
    assert [n.sku for n in hats] == truth(lambda i: i % 3 == 0 and 10 <= i <= 40)
    assert {n.category for n in hats} == {"hats"} and all(10 <= n.price <= 40 for n in hats)
    with_inactive = store.similar("text", "P00", k=59, active_only=False)
    assert "P07" in {n.sku for n in with_inactive} and len(with_inactive) == 59
    by_vector = store.query(index, vecs[0], k=3)
    assert [s for s, _ in by_vector] == ["P00", *truth(lambda i: i != 7)[:2]]
    with pytest.raises(UnknownSku):
        store.similar("text", "NOPE")
    with pytest.raises(LookupError, match="no active image index"):
        store.similar("image", "P00")


def test_selective_filter_falls_back_to_an_exact_scan(store, platform_db):
    """pgvector applies filters after the HNSW search: a rare category can come back short."""
    rng = np.random.default_rng(2)
    common = unit(rng.standard_normal((400, DIM)) + 3 * np.eye(DIM)[0])
    rare = unit(rng.standard_normal((12, DIM)) - 3 * np.eye(DIM)[0])  # far from the query
    index = store.ensure_index("text", "m", "p", DIM)
    store.upsert(
        index,
        [rec(f"C{i:03d}", v, category="common") for i, v in enumerate(common)]
        + [rec(f"R{i:02d}", v, category="rare") for i, v in enumerate(rare)],
    )
    assert store.build_hnsw(index)  # bulk-filled first, the graph built after
    with connect(store.url) as conn, conn.cursor() as cur:
        # leave the planner no other index than HNSW, as on a big table with this filter
        cur.execute(f"DROP INDEX {store.schema}.vec_{index.name}_category_idx")
        cur.execute(f"ALTER DATABASE {conn.info.dbname} SET enable_seqscan = off")
        cur.execute(f"ALTER DATABASE {conn.info.dbname} SET enable_bitmapscan = off")
        cur.execute("ANALYZE")
    query = common[0]
    with connect(store.url) as conn, conn.cursor() as cur:
        cur.execute("SET hnsw.ef_search = 20")
        cur.execute(
            f"SELECT sku FROM {index.table(store.schema)} WHERE category = 'rare' "
            "ORDER BY embedding <=> %s::vector LIMIT 10",
            ("[" + ",".join(map(str, query)) + "]",),
        )
        plain = cur.fetchall()
    assert len(plain) < 10  # the problem is real here
    got = knn(store, index, vector=query, k=10, category="rare", ef_search=20)
    want = [f"R{i:02d}" for i in np.argsort(-(rare @ query))[:10]]
    assert [n.sku for n in got] == want
