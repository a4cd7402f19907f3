"""Benchmark how vectors reach pgvector: the store's upsert paths vs the pgvector adapter.

Prints one JSON object: vectors/s writing ``--rows`` vectors (``--batch`` per call) into
fresh index tables without HNSW (so the encoding and transfer dominate), in the same
run and database, for

* ``values``: the store's multi-row INSERT with ``%.7g`` text literals;
* ``copy``: the store's binary COPY (numpy big-endian float4 per row) + one merge;
* ``adapter_values``: ``pgvector.psycopg2.register_vector`` and numpy arrays as
  parameters of the same multi-row INSERT (the adapter sends the text form);
* ``adapter_copy``: the store's binary COPY with each vector encoded by
  ``pgvector.Vector(v).to_binary()`` instead of numpy.

Uses ``ENRICHMENT_DATABASE_URL`` when set, otherwise a throw-away embedded PostgreSQL.

    python bench/bench_vector_encoding.py [--rows 20000] [--dim 384] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def adapter_values(store, index, records) -> None:
    """The same INSERT as the store's ``values`` path, vectors adapted by pgvector."""
    from pgvector.psycopg2 import register_vector
    from psycopg2.extras import execute_values

    from enrichment.db.connection import connect

    with connect(store.url) as conn, conn.cursor() as cur:
        register_vector(conn)
        rows = [
            (r.sku, np.asarray(r.vector, np.float32), index.model_id, r.content_hash)
            + tuple(r.metadata.get(k) for k in ("category", "brand", "price", "active"))
            for r in records
        ]
        execute_values(
            cur,
            f"""INSERT INTO {index.table(store.schema)} (sku, embedding, model_id, content_hash,
                    category, brand, price, active) VALUES %s ON CONFLICT (sku) DO UPDATE
                    SET embedding = EXCLUDED.embedding""",
            rows,
            page_size=500,
        )


def adapter_copy(store, index, records) -> None:
    """The store's binary COPY with the vector field from ``pgvector.Vector.to_binary``."""
    import struct

    from pgvector import Vector

    from enrichment.vectors import writes

    def encode(vec) -> bytes:
        data = Vector(np.asarray(vec, np.float32)).to_binary()
        return struct.pack("!i", len(data)) + data

    original = writes._vector_field
    writes._vector_field = lambda vec, _head: encode(vec)
    try:
        store.upsert(index, records, method="copy")
    finally:
        writes._vector_field = original


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "include"))
    sys.path.insert(0, ROOT)
    from scratch import scratch_database

    from bench.bench_vectors import fresh_index, records
    from enrichment.vectors.store import PgVectorStore

    with scratch_database("vecenc") as url:
        store = PgVectorStore(url, "enrichment")
        rng = np.random.default_rng(7)
        vecs = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        sample = records(vecs, 0, rng)
        variants = {
            "values": lambda index, recs: store.upsert(index, recs, method="values"),
            "copy": lambda index, recs: store.upsert(index, recs, method="copy"),
            "adapter_values": lambda index, recs: adapter_values(store, index, recs),
            "adapter_copy": lambda index, recs: adapter_copy(store, index, recs),
        }
        out: dict = {"rows": args.rows, "dim": args.dim, "batch": args.batch, "vectors_per_s": {}}
        best: dict[str, float] = {}
        for _ in range(args.repeat):  # interleaved, best of --repeat
            for label, write in variants.items():
                index = fresh_index(store, label, args.dim, hnsw=False)
                started = time.perf_counter()
                for s in range(0, len(sample), args.batch):
                    write(index, sample[s : s + args.batch])
                secs = time.perf_counter() - started
                best[label] = min(best.get(label, secs), secs)
                store.drop_index(index.name)
        out["vectors_per_s"] = {k: round(args.rows / v) for k, v in best.items()}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
