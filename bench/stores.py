"""Benchmark the PostgreSQL stores: a first index fill, a day's vector upserts, tag writes.

    python bench/stores.py [--n 100000] [--dim 384] [--incremental 15000] [--tags 20000]

Prints one JSON line on stdout, the contract:

* ``first_fill_vectors_per_s``: ``--n`` vectors into a new index version the way every
  version is filled now, the first of a fresh install included: ``PgVectorStore.upsert``
  (COPY into a staging table + one merge) into a table without HNSW, then one HNSW build;
  the rate counts the build;
* ``incremental_vectors_per_s``: ``--incremental`` upserts (two thirds replacing existing
  SKUs, one third new) into that table with its HNSW index, in worker-sized batches;
* ``tags_per_s``: tag rows written by ``PostgresTagStore.replace_tags`` (documents of 6
  tags, replacing the previous tags of the same SKUs half of the time).

One JSON line on stderr gives the baseline measured in the same run: the way the first
version was filled before, into a table that has its HNSW index from the start (on
``--baseline-rows`` rows: growing the graph row by row is slow), and the ratio; and, at
the end on the same rows, the HNSW build time and recall@10 (``hnsw.ef_search`` 40 and
100, against an exact scan) at the configured ``ef_construction`` and at each of
``--ef-construction`` (what a cheaper graph would buy and cost).
Vectors are clustered unit vectors (see ``bench/bench_vectors.py``). Uses
``ENRICHMENT_DATABASE_URL`` when set, otherwise a throw-away embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

from bench_vectors import make_centres, make_vectors, records  # noqa: E402


def upsert_all(store, index, recs, batch: int) -> float:
    started = time.perf_counter()
    for s in range(0, len(recs), batch):
        store.upsert(index, recs[s : s + batch])
    return time.perf_counter() - started


def _recall(url: str, table: str, queries, ef_search: int | None, k: int = 10) -> list[list]:
    """The ``k`` nearest SKUs of each query: exact (``ef_search`` None) or through HNSW."""
    from bench_vectors import run_queries

    from enrichment.db import connection as db
    from enrichment.vectors.writes import vector_literal

    sql = f"SELECT sku FROM {table} ORDER BY embedding <=> %s::vector LIMIT {k}"
    setup = (
        ["SET enable_indexscan = off"]
        if ef_search is None
        else ["SET enable_indexscan = on", f"SET hnsw.ef_search = {ef_search}"]
    )
    with db.connect(url) as conn:
        return run_queries(conn, sql, [(vector_literal(q),) for q in queries], setup)[1]


def graph_variants(store, index, url: str, queries, variants: list[int]) -> dict:
    """HNSW build seconds and recall@10 per ``ef_construction``, rebuilt on the same rows."""
    from bench_vectors import recall

    from enrichment.db import connection as db

    table = index.table("enrichment")
    truth = _recall(url, table, queries, None)
    default = store.hnsw_ef_construction
    out = {}
    for ef_construction in [default, *[v for v in variants if v != default]]:
        with db.connect(url) as conn, conn.cursor() as cur:
            cur.execute(f"DROP INDEX IF EXISTS enrichment.vec_{index.name}_hnsw")
        store.hnsw_ef_construction = ef_construction
        started = time.perf_counter()
        store.build_hnsw(index, memory="1GB")
        seconds = time.perf_counter() - started
        out[str(ef_construction)] = {
            "build_seconds": round(seconds, 1),
            **{
                f"recall_at_10_ef_search_{ef}": recall(_recall(url, table, queries, ef), truth, 10)
                for ef in (40, 100)
            },
        }
    store.hnsw_ef_construction = default
    return {"m": store.hnsw_m, "ef_construction": out}


def tag_documents(n: int, start: int, rng) -> list:
    from enrichment.tags.documents import ProductDoc, TagDocument

    attrs = ["category", "color", "pattern", "material", "style", "gender"]
    return [
        TagDocument(
            doc=ProductDoc(f"SKU{start + i:07d}", f"Product {i}", "acme", "tops", 10.0, 3),
            tags=[
                {
                    "attribute": a,
                    "value": f"v{int(rng.integers(0, 9))}",
                    "confidence": 0.9,
                    "sources": ["text", "pixels"],
                }
                for a in attrs
            ],
            taxonomy_version="bench",
            model_id="none",
            content_hash=f"h{start + i}",
            run_id="bench",
        )
        for i in range(n)
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--incremental", type=int, default=15_000)
    ap.add_argument("--tags", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=5_000, help="first-fill upsert batch")
    ap.add_argument("--day-batch", type=int, default=500, help="incremental batch (a shard)")
    ap.add_argument("--baseline-rows", type=int, default=5_000)
    ap.add_argument("--ef-construction", type=int, nargs="*", default=[32], help="variants")
    ap.add_argument("--queries", type=int, default=100, help="recall queries per variant")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "include"))
    from scratch import scratch_database

    from enrichment.db import connection as db
    from enrichment.tags.store import PostgresTagStore
    from enrichment.vectors.store import PgVectorStore

    with scratch_database("stores") as url:
        store = PgVectorStore(url, "enrichment")
        rng = np.random.default_rng(7)
        centres = make_centres(1000, args.dim, rng)
        details: dict = {"n": args.n, "dim": args.dim}
        # the baseline: the first version used to have HNSW before its first row
        base = store.ensure_index("text", "bench-baseline", "b", args.dim)
        store.build_hnsw(base)
        sample = records(make_vectors(args.baseline_rows, args.dim, centres, rng), 0, rng)
        secs = upsert_all(store, base, sample, args.batch)
        details["baseline_fill_into_hnsw_vectors_per_s"] = round(len(sample) / secs)
        store.drop_index(base.name)

        index = store.ensure_index("text", "bench-first", "b", args.dim)
        assert not store.has_hnsw(index)
        data = records(make_vectors(args.n, args.dim, centres, rng), 0, rng)
        fill = upsert_all(store, index, data, args.batch)
        started = time.perf_counter()
        store.build_hnsw(index, memory="1GB")
        build = time.perf_counter() - started
        first_fill = args.n / (fill + build)
        details["first_fill"] = {
            "copy_seconds": round(fill, 1),
            "hnsw_seconds": round(build, 1),
            "hnsw_build_workers": store.hnsw_build_workers,
        }
        if store.hnsw_build_workers:  # the same build by the session alone, same data
            with db.connect(url) as conn, conn.cursor() as cur:
                cur.execute(f"DROP INDEX enrichment.vec_{index.name}_hnsw")
            store.hnsw_build_workers, workers = 0, store.hnsw_build_workers
            started = time.perf_counter()
            store.build_hnsw(index, memory="1GB")
            details["first_fill"]["hnsw_serial_seconds"] = round(time.perf_counter() - started, 1)
            store.hnsw_build_workers = workers

        replaced = args.incremental * 2 // 3
        day = records(make_vectors(replaced, args.dim, centres, rng), 0, rng, tag="d")
        fresh = args.incremental - replaced
        day += records(make_vectors(fresh, args.dim, centres, rng), args.n, rng, tag="d")
        rng.shuffle(day)
        incremental = args.incremental / upsert_all(store, index, day, args.day_batch)

        tags = PostgresTagStore(url, "enrichment")
        docs = tag_documents(args.tags, 0, rng)
        docs += tag_documents(args.tags, args.tags // 2, rng)  # half re-tag existing SKUs
        started = time.perf_counter()
        written = sum(tags.replace_tags(docs[s : s + 500]) for s in range(0, len(docs), 500))
        tags_per_s = written / (time.perf_counter() - started)
        queries = make_vectors(args.queries, args.dim, centres, rng)
        details["graph_variants"] = graph_variants(store, index, url, queries, args.ef_construction)
    details["first_fill_vs_baseline"] = round(
        first_fill / details["baseline_fill_into_hnsw_vectors_per_s"], 1
    )
    print(json.dumps(details), file=sys.stderr)
    print(
        json.dumps(
            {
                "first_fill_vectors_per_s": round(first_fill),
                "incremental_vectors_per_s": round(incremental),
                "tags_per_s": round(tags_per_s),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
