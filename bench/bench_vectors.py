"""Benchmark the pgvector store: upsert throughput and kNN latency at 100k vectors.

Prints one JSON object comparing, in the same run and database:

* ``upsert``: vectors/s of ``PgVectorStore.upsert`` into a fresh table, multi-row
  INSERT (``values``) vs binary COPY into a staging table + one merge (``copy``), each
  with the HNSW index present, and COPY into a table without HNSW followed by one
  HNSW build (what a blue/green fill does); plus a daily-refresh case: replacing
  ``--refresh-rows`` existing rows of the full table (HNSW present);
* ``load``: the full table loaded by COPY, then the HNSW build time;
* ``knn``: latency (ms, p50/p95 over ``--queries`` queries, one open connection) of an
  exact scan vs HNSW at several ``ef_search`` values, with recall@k against the exact
  answer; a category filter (2 % of rows) with plain HNSW, HNSW with the exact-scan
  fallback of :func:`enrichment.vectors.query.knn`, and an exact scan; and ``similar``
  end to end (new connection, query vector read in the database).

Vectors: a mixture of ``--clusters`` Gaussian clusters on the unit sphere (product
embeddings are clustered; ``--clusters 0`` gives uniform random vectors, the hardest
case for HNSW). Uses ``ENRICHMENT_DATABASE_URL`` when set, otherwise a throw-away
embedded PostgreSQL in a temporary folder.

    python bench/bench_vectors.py [--n 100000] [--dim 384] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_centres(clusters: int, dim: int, rng: np.random.Generator) -> np.ndarray | None:
    if not clusters:
        return None
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    return centres / np.linalg.norm(centres, axis=1, keepdims=True)


def make_vectors(
    n: int, dim: int, centres: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """Unit vectors around ``centres`` (cosine to their centre about 0.86), or uniform."""
    if centres is not None:
        x = centres[rng.integers(0, len(centres), n)] + 0.03 * rng.standard_normal((n, dim))
    else:
        x = rng.standard_normal((n, dim))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def records(vectors: np.ndarray, start: int, rng: np.random.Generator, tag: str = "h"):
    from enrichment.vectors.records import VectorRecord

    cats = rng.integers(0, 50, len(vectors))
    prices = rng.uniform(5, 500, len(vectors)).round(2)
    return [
        VectorRecord(
            f"SKU{start + i:07d}",
            v,
            f"{tag}{start + i}",
            {
                "category": f"cat{cats[i]:02d}",
                "brand": "acme",
                "price": float(prices[i]),
                "active": bool(i % 50),
            },
        )
        for i, v in enumerate(vectors)
    ]


def timed_upsert(store, index, recs, method: str, batch: int) -> float:
    started = time.perf_counter()
    for s in range(0, len(recs), batch):
        store.upsert(index, recs[s : s + batch], method=method)
    return time.perf_counter() - started


def fresh_index(store, label: str, dim: int, hnsw: bool):
    """A new index version with or without its HNSW index (the first of a kind has one)."""
    from enrichment.db.connection import connect

    index = store.ensure_index("text", f"bench-{label}-{uuid.uuid4().hex[:6]}", "b", dim)
    if hnsw:
        store.build_hnsw(index)
    else:
        with connect(store.url) as conn, conn.cursor() as cur:
            cur.execute(f"DROP INDEX IF EXISTS {store.schema}.vec_{index.name}_hnsw")
    return index


def percentiles(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
    }


def run_queries(conn, sql: str, params_list: list, setup: list[str]) -> tuple[list, list]:
    ms, results = [], []
    with conn.cursor() as cur:
        for stmt in setup:
            cur.execute(stmt)
        for params in params_list:
            t = time.perf_counter()
            cur.execute(sql, params)
            rows = cur.fetchall()
            ms.append((time.perf_counter() - t) * 1000)
            results.append([r[0] for r in rows])
    conn.rollback()
    return ms, results


def recall(got: list[list], truth: list[list], k: int) -> float:
    return round(
        float(np.mean([len(set(g) & set(t)) / k for g, t in zip(got, truth, strict=True)])), 4
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--upsert-rows", type=int, default=10_000)
    ap.add_argument("--refresh-rows", type=int, default=5_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "include"))
    from scratch import scratch_database

    from enrichment.db import connection as db
    from enrichment.vectors.query import knn, knn_sql
    from enrichment.vectors.store import PgVectorStore
    from enrichment.vectors.writes import vector_literal

    with scratch_database("vectors") as url:
        store = PgVectorStore(url, "enrichment")
        rng = np.random.default_rng(7)
        centres = make_centres(args.clusters, args.dim, rng)
        out: dict = {
            "n": args.n,
            "dim": args.dim,
            "clusters": args.clusters,
            "k": args.k,
            "pgvector": None,
            "hnsw": {"m": store.hnsw_m, "ef_construction": store.hnsw_ef_construction},
        }
        with db.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            out["pgvector"] = cur.fetchone()[0]

        # -- upsert variants on the same rows, fresh tables -------------------------------
        sample = records(make_vectors(args.upsert_rows, args.dim, centres, rng), 0, rng)
        up: dict = {"rows": len(sample), "batch": args.batch}
        for label, method, hnsw in (
            ("values_hnsw", "values", True),
            ("copy_hnsw", "copy", True),
            ("copy_no_hnsw", "copy", False),
        ):
            index = fresh_index(store, label, args.dim, hnsw)
            secs = timed_upsert(store, index, sample, method, args.batch)
            up[label] = {"seconds": round(secs, 2), "vectors_per_s": round(len(sample) / secs)}
            if not hnsw:
                t = time.perf_counter()
                store.build_hnsw(index)
                build = time.perf_counter() - t
                up["copy_then_build"] = {
                    "seconds": round(secs + build, 2),
                    "vectors_per_s": round(len(sample) / (secs + build)),
                }
            store.drop_index(index.name)
        out["upsert"] = up

        # -- the 100k table: COPY load, then one HNSW build ---------------------------------
        data = make_vectors(args.n, args.dim, centres, rng)
        main_index = fresh_index(store, "main", args.dim, hnsw=False)
        recs = records(data, 0, rng)
        secs = timed_upsert(store, main_index, recs, "copy", 5000)
        t = time.perf_counter()
        store.build_hnsw(main_index, memory="1GB")
        out["load"] = {
            "copy_seconds": round(secs, 1),
            "vectors_per_s": round(args.n / secs),
            "hnsw_build_seconds": round(time.perf_counter() - t, 1),
        }

        # -- daily refresh: replace existing rows, HNSW present ------------------------------
        refresh: dict = {"rows": args.refresh_rows}
        for method in ("values", "copy"):
            pick = rng.choice(args.n, args.refresh_rows, replace=False)
            changed = records(make_vectors(len(pick), args.dim, centres, rng), 0, rng, method)
            for r, i in zip(changed, pick, strict=True):
                r.sku = f"SKU{int(i):07d}"
            secs = timed_upsert(store, main_index, changed, method, args.batch)
            refresh[method] = {
                "seconds": round(secs, 2),
                "vectors_per_s": round(len(changed) / secs),
            }
        out["refresh_existing"] = refresh

        # -- kNN latency and recall ------------------------------------------------------------
        table = main_index.table("enrichment")
        qv = make_vectors(args.queries, args.dim, centres, rng)
        lits = [vector_literal(v) for v in qv]
        plain = f"SELECT sku FROM {table} ORDER BY embedding <=> %s::vector LIMIT {args.k}"
        filt = (
            f"SELECT sku FROM {table} WHERE category = %s ORDER BY embedding <=> "
            f"%s::vector LIMIT {args.k}"
        )
        cats = [f"cat{int(c):02d}" for c in rng.integers(0, 50, args.queries)]
        knn_out: dict = {}
        with db.connect(url) as conn:
            ms, truth = run_queries(
                conn, plain, [(x,) for x in lits], ["SET enable_indexscan = off"]
            )
            knn_out["exact"] = {**percentiles(ms), "recall": 1.0}
            for ef in (40, 100, 200):
                ms, got = run_queries(
                    conn,
                    plain,
                    [(x,) for x in lits],
                    ["SET enable_indexscan = on", f"SET hnsw.ef_search = {ef}"],
                )
                knn_out[f"hnsw_ef{ef}"] = {**percentiles(ms), "recall": recall(got, truth, args.k)}
            params = list(zip(cats, lits, strict=True))
            ms, ftruth = run_queries(conn, filt, params, ["SET enable_indexscan = off"])
            knn_out["filtered_exact"] = {**percentiles(ms), "recall": 1.0}
            ms, got = run_queries(
                conn, filt, params, ["SET enable_indexscan = on", "SET hnsw.ef_search = 100"]
            )
            knn_out["filtered_hnsw_ef100"] = {
                **percentiles(ms),
                "recall": recall(got, ftruth, args.k),
                "mean_rows_returned": round(float(np.mean([len(g) for g in got])), 2),
            }
            with conn.cursor() as cur:  # the statements knn() runs use the HNSW index
                plans = {}
                for label, by_sku in (("similar_by_sku", True), ("by_vector", False)):
                    sql = knn_sql(
                        table, ["active", "sku <> %(exclude)s"], by_sku=by_sku, exact=False
                    )
                    cur.execute(
                        "EXPLAIN " + sql,
                        {
                            "sku": "SKU0000001",
                            "exclude": "SKU0000001",
                            "vector": lits[0],
                            "k": args.k,
                        },
                    )
                    plans[label] = "hnsw" in " ".join(r[0] for r in cur.fetchall())
                knn_out["knn_statements_use_hnsw"] = plans
            conn.rollback()
        ms, got = [], []
        for cat, v in zip(cats, qv, strict=True):
            t = time.perf_counter()
            got.append(
                [
                    n.sku
                    for n in knn(
                        store, main_index, vector=v, k=args.k, category=cat, active_only=False
                    )
                ]
            )
            ms.append((time.perf_counter() - t) * 1000)
        knn_out["filtered_knn_with_fallback"] = {
            **percentiles(ms),
            "recall": recall(got, ftruth, args.k),
        }
        ms = []
        for i in rng.integers(0, args.n, args.queries):
            t = time.perf_counter()
            sku = f"SKU{int(i):07d}"
            knn(store, main_index, sku=sku, k=args.k, exclude_sku=sku)
            ms.append((time.perf_counter() - t) * 1000)
        knn_out["similar_end_to_end"] = percentiles(ms)
        out["knn"] = knn_out
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
