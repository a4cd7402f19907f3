"""Writes to pgvector index versions: upserts (multi-row INSERT or binary COPY), deletes,
metadata refreshes. Mixed into :class:`enrichment.vectors.store.PgVectorStore`.

``upsert`` sends small batches as one multi-row INSERT and large ones as a binary COPY
into a temporary staging table followed by one ``INSERT .. SELECT .. ON CONFLICT``
(pgvector's binary format: int16 dimension, int16 unused, float4 values, big-endian).
The COPY stays hand-encoded because the package's psycopg2 adapter
(``pgvector.psycopg2.register_vector``, text form only) is measurably slower:
``bench/bench_vector_encoding.py`` (10k 384-d vectors, no HNSW) wrote 8,608 vectors/s by
this COPY against 632/s through the adapter with numpy arrays and 5,071/s with the
package's ``Vector.to_binary()`` per row in the same COPY.
Deletes and metadata updates go to every version of every kind, retired ones included.
"""

from __future__ import annotations

import io
import struct
from typing import TYPE_CHECKING

import numpy as np
from psycopg2.extras import execute_values

from enrichment.db.connection import connect

if TYPE_CHECKING:
    from enrichment.vectors.records import VectorIndex, VectorRecord

COPY_THRESHOLD = 200  # rows; below this a multi-row INSERT is as fast and simpler
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_NULL = struct.pack("!i", -1)


def vector_literal(vec: np.ndarray) -> str:
    """pgvector's text form of one vector."""
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vec, dtype=np.float32)) + "]"


def _literals(matrix: np.ndarray) -> list[str]:
    buf = io.StringIO()
    np.savetxt(buf, matrix, fmt="%.7g", delimiter=",")
    return ["[" + line + "]" for line in buf.getvalue().splitlines()]


def _text(value) -> bytes:
    if value is None:
        return _NULL
    data = str(value).encode("utf-8")
    return struct.pack("!i", len(data)) + data


def _vector_field(vec, head: bytes) -> bytes:
    return head + np.asarray(vec, dtype=">f4").tobytes()


def _copy_payload(records: list[VectorRecord], dim: int) -> io.BytesIO:
    """Binary COPY rows: sku, embedding, content_hash, category, brand, price, active."""
    parts = [_COPY_HEADER]
    vec_head = struct.pack("!ihh", 4 + 4 * dim, dim, 0)
    count = struct.pack("!h", 7)
    for r in records:
        m = r.metadata
        price = m.get("price")
        parts += [
            count,
            _text(r.sku),
            _vector_field(r.vector, vec_head),
            _text(r.content_hash),
            _text(m.get("category")),
            _text(m.get("brand")),
            _NULL if price is None else struct.pack("!id", 8, float(price)),
            struct.pack("!ib", 1, 1 if m.get("active", True) else 0),
        ]
    parts.append(struct.pack("!h", -1))
    return io.BytesIO(b"".join(parts))


class PgVectorWrites:
    """Write methods of the pgvector store (needs ``url`` and ``schema``)."""

    url: str
    schema: str

    def upsert(
        self, index: VectorIndex, records: list[VectorRecord], *, method: str = "auto"
    ) -> int:
        """Insert or replace ``records`` (keyed by SKU; the last of duplicates wins).

        ``method``: ``values`` (multi-row INSERT), ``copy`` (binary COPY into a staging
        table, then one INSERT .. SELECT .. ON CONFLICT) or ``auto`` (by batch size).
        """
        records = list({r.sku: r for r in records}.values())
        if not records:
            return 0
        for r in records:
            shape = np.shape(r.vector)
            if shape != (index.dim,):
                raise ValueError(
                    f"{r.sku}: vector has shape {shape}, index {index.name} expects ({index.dim},)"
                )
        if method == "auto":
            method = "copy" if len(records) >= COPY_THRESHOLD else "values"
        merge = """ON CONFLICT (sku) DO UPDATE SET
                       embedding = EXCLUDED.embedding, model_id = EXCLUDED.model_id,
                       content_hash = EXCLUDED.content_hash, category = EXCLUDED.category,
                       brand = EXCLUDED.brand, price = EXCLUDED.price,
                       active = EXCLUDED.active, updated_at = clock_timestamp()"""
        table = index.table(self.schema)
        with connect(self.url) as conn, conn.cursor() as cur:
            if method == "copy":
                cur.execute(f"""CREATE TEMP TABLE vec_stage (sku text, embedding vector({index.dim}),
                                    content_hash text, category text, brand text,
                                    price float8, active boolean) ON COMMIT DROP""")
                cur.copy_expert(
                    "COPY vec_stage FROM STDIN WITH (FORMAT binary)",
                    _copy_payload(records, index.dim),
                )
                cur.execute(
                    f"""INSERT INTO {table} (sku, embedding, model_id, content_hash,
                                       category, brand, price, active)
                                SELECT sku, embedding, %s, content_hash, category, brand,
                                       price::numeric(12, 2), active FROM vec_stage {merge}""",
                    (index.model_id,),
                )
            elif method == "values":
                literals = _literals(np.stack([np.asarray(r.vector, np.float32) for r in records]))
                rows = [
                    (
                        r.sku,
                        lit,
                        index.model_id,
                        r.content_hash,
                        r.metadata.get("category"),
                        r.metadata.get("brand"),
                        r.metadata.get("price"),
                        r.metadata.get("active", True),
                    )
                    for r, lit in zip(records, literals, strict=True)
                ]
                execute_values(
                    cur,
                    f"""INSERT INTO {table} (sku, embedding, model_id, content_hash,
                                    category, brand, price, active) VALUES %s {merge}""",
                    rows,
                    template="(%s, %s::vector, %s, %s, %s, %s, %s, %s)",
                    page_size=500,
                )
            else:
                raise ValueError(f"unknown upsert method {method!r} (auto, values, copy)")
        return len(records)

    def delete(self, skus: list[str]) -> int:
        """Remove ``skus`` from every index version (all kinds and states)."""
        if not skus:
            return 0
        removed = 0
        with connect(self.url) as conn, conn.cursor() as cur:
            for table in self._all_tables(cur):
                cur.execute(f"DELETE FROM {table} WHERE sku = ANY(%s)", (list(skus),))
                removed += cur.rowcount
        return removed

    def delete_from(self, index: VectorIndex, skus: list[str]) -> int:
        """Remove ``skus`` from one index version (e.g. a product that lost its image)."""
        if not skus:
            return 0
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                f"DELETE FROM {index.table(self.schema)} WHERE sku = ANY(%s)", (list(skus),)
            )
            return cur.rowcount

    def update_metadata(self, kind: str | None, metadata: dict[str, dict]) -> int:
        """Refresh stored metadata (category, brand, price, active) without re-embedding."""
        if not metadata:
            return 0
        rows = [
            (sku, m.get("category"), m.get("brand"), m.get("price"), m.get("active", True))
            for sku, m in metadata.items()
        ]
        updated = 0
        with connect(self.url) as conn, conn.cursor() as cur:
            for table in self._all_tables(cur, kind):
                execute_values(
                    cur,
                    f"""UPDATE {table} AS t SET category = v.category, brand = v.brand,
                           price = v.price::numeric, active = v.active::boolean,
                           updated_at = clock_timestamp()
                        FROM (VALUES %s) AS v (sku, category, brand, price, active)
                        WHERE t.sku = v.sku""",
                    rows,
                )
                updated += cur.rowcount
        return updated

    def _all_tables(self, cur, kind: str | None = None) -> list[str]:
        cur.execute(
            f"SELECT name FROM {self.schema}.vector_indexes WHERE %s::text IS NULL OR kind = %s",
            (kind, kind),
        )
        return [f"{self.schema}.vec_{r[0]}" for r in cur.fetchall()]
