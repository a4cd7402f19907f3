"""Vector stores: versioned text and image vectors, pgvector by default.

Every index version is registered in ``{schema}.vector_indexes`` (kind, model, text
preparation version, dimension, state) and stored in its own table
``{schema}.vec_<name>`` with an HNSW cosine index. One version per kind is ``active``
(queried); a model change creates a ``building`` version that a backfill fills and
``switch`` activates atomically once complete (blue/green).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from psycopg2.extras import execute_values

from enrichment.db import connect


@dataclass
class VectorIndex:
    name: str
    kind: str
    model_id: str
    prep_version: str
    dim: int
    state: str

    def table(self, schema: str) -> str:
        return f"{schema}.vec_{self.name}"


@dataclass
class VectorRecord:
    """One vector with the provenance and metadata stored beside it."""

    sku: str
    vector: np.ndarray
    content_hash: str
    metadata: dict = field(default_factory=dict)


def index_name(kind: str, model_id: str, prep_version: str) -> str:
    """Stable name of the index version for (kind, model, text preparation)."""
    digest = hashlib.sha256(f"{kind}|{model_id}|{prep_version}".encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "_", model_id.lower().split("/")[-1])[:24].strip("_")
    return f"{kind}_{slug}_{digest}"


class VectorStore(Protocol):
    def ensure_index(self, kind: str, model_id: str, prep_version: str, dim: int
                     ) -> VectorIndex: ...

    def upsert(self, index: VectorIndex, records: list[VectorRecord]) -> int: ...

    def delete(self, skus: list[str]) -> int: ...

    def update_metadata(self, kind: str, metadata: dict[str, dict]) -> int: ...

    def content_hashes(self, index: VectorIndex, skus: list[str]) -> dict[str, str]: ...


META_COLUMNS = ("category", "brand", "price", "active")


class PgVectorStore:
    """pgvector tables in the platform database."""

    def __init__(self, url: str, schema: str):
        self.url = url
        self.schema = schema

    # -- index registry ----------------------------------------------------------------
    def indexes(self, kind: str | None = None) -> list[VectorIndex]:
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT name, kind, model_id, prep_version, dim, state "
                f"FROM {self.schema}.vector_indexes WHERE %s::text IS NULL OR kind = %s "
                "ORDER BY created_at", (kind, kind))
            return [VectorIndex(*row) for row in cur.fetchall()]

    def active_index(self, kind: str) -> VectorIndex | None:
        return next((i for i in self.indexes(kind) if i.state == "active"), None)

    def ensure_index(self, kind: str, model_id: str, prep_version: str, dim: int
                     ) -> VectorIndex:
        """The index version for this model, created when missing.

        The first version of a kind becomes active at once; a later one starts as
        ``building`` until it is switched to.
        """
        name = index_name(kind, model_id, prep_version)
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"vecidx:{kind}",))
            cur.execute(
                f"SELECT name, kind, model_id, prep_version, dim, state "
                f"FROM {self.schema}.vector_indexes WHERE name = %s", (name,))
            row = cur.fetchone()
            if row:
                return VectorIndex(*row)
            cur.execute(
                f"SELECT count(*) FROM {self.schema}.vector_indexes "
                "WHERE kind = %s AND state = 'active'", (kind,))
            state = "building" if cur.fetchone()[0] else "active"
            index = VectorIndex(name, kind, model_id, prep_version, dim, state)
            table = index.table(self.schema)
            cur.execute(
                f"""CREATE TABLE {table} (
                        sku          text PRIMARY KEY,
                        embedding    vector({dim}) NOT NULL,
                        model_id     text NOT NULL,
                        content_hash text NOT NULL,
                        category     text,
                        brand        text,
                        price        numeric(12, 2),
                        active       boolean NOT NULL DEFAULT true,
                        created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
                        updated_at   timestamptz NOT NULL DEFAULT clock_timestamp())""")
            cur.execute(f"CREATE INDEX ON {table} USING hnsw (embedding vector_cosine_ops)")
            cur.execute(f"CREATE INDEX ON {table} (category)")
            cur.execute(
                f"""INSERT INTO {self.schema}.vector_indexes
                       (name, kind, model_id, prep_version, dim, state, activated_at)
                    VALUES (%s, %s, %s, %s, %s, %s,
                            CASE WHEN %s = 'active' THEN clock_timestamp() END)""",
                (name, kind, model_id, prep_version, dim, state, state))
            return index

    # -- writes -----------------------------------------------------------------------
    def upsert(self, index: VectorIndex, records: list[VectorRecord]) -> int:
        """Insert or replace ``records`` (keyed by SKU) in ``index``."""
        if not records:
            return 0
        rows = []
        for r in records:
            vec = np.asarray(r.vector, dtype=np.float32)
            if vec.shape != (index.dim,):
                raise ValueError(f"{r.sku}: vector has shape {vec.shape}, index {index.name} "
                                 f"expects ({index.dim},)")
            m = r.metadata
            rows.append((r.sku, "[" + ",".join(f"{x:.7g}" for x in vec) + "]", index.model_id,
                         r.content_hash, m.get("category"), m.get("brand"), m.get("price"),
                         m.get("active", True)))
        with connect(self.url) as conn, conn.cursor() as cur:
            execute_values(
                cur,
                f"""INSERT INTO {index.table(self.schema)}
                       (sku, embedding, model_id, content_hash, category, brand, price, active)
                    VALUES %s
                    ON CONFLICT (sku) DO UPDATE SET
                       embedding = EXCLUDED.embedding, model_id = EXCLUDED.model_id,
                       content_hash = EXCLUDED.content_hash, category = EXCLUDED.category,
                       brand = EXCLUDED.brand, price = EXCLUDED.price,
                       active = EXCLUDED.active, updated_at = clock_timestamp()""",
                rows, template="(%s, %s::vector, %s, %s, %s, %s, %s, %s)", page_size=500)
        return len(rows)

    def delete(self, skus: list[str]) -> int:
        """Remove ``skus`` from every index version of every kind."""
        if not skus:
            return 0
        removed = 0
        with connect(self.url) as conn, conn.cursor() as cur:
            for index in self._all_tables(cur):
                cur.execute(f"DELETE FROM {index} WHERE sku = ANY(%s)", (skus,))
                removed += cur.rowcount
        return removed

    def update_metadata(self, kind: str | None, metadata: dict[str, dict]) -> int:
        """Refresh stored metadata (category, brand, price, active) without re-embedding."""
        if not metadata:
            return 0
        rows = [(sku, m.get("category"), m.get("brand"), m.get("price"), m.get("active", True))
                for sku, m in metadata.items()]
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
                    rows)
                updated += cur.rowcount
        return updated

    def content_hashes(self, index: VectorIndex, skus: list[str]) -> dict[str, str]:
        """``{sku: content_hash}`` already stored in ``index`` for ``skus``."""
        if not skus:
            return {}
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT sku, content_hash FROM {index.table(self.schema)} "
                        "WHERE sku = ANY(%s)", (skus,))
            return dict(cur.fetchall())

    def _all_tables(self, cur, kind: str | None = None) -> list[str]:
        cur.execute(f"SELECT name FROM {self.schema}.vector_indexes "
                    "WHERE state <> 'retired' AND (%s::text IS NULL OR kind = %s)", (kind, kind))
        return [f"{self.schema}.vec_{r[0]}" for r in cur.fetchall()]

    # -- reads ------------------------------------------------------------------------
    def vector_of(self, index: VectorIndex, sku: str) -> np.ndarray | None:
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT embedding::text FROM {index.table(self.schema)} WHERE sku = %s",
                        (sku,))
            row = cur.fetchone()
        return None if row is None else np.array(row[0].strip("[]").split(","), dtype=np.float32)

    def query(self, index: VectorIndex, vector: np.ndarray, k: int = 10, *,
              category: str | None = None, active_only: bool = True,
              min_price: float | None = None, max_price: float | None = None,
              exclude_sku: str | None = None) -> list[tuple[str, float]]:
        """kNN by cosine similarity with optional filters; returns ``(sku, similarity)``."""
        where, params = ["true"], []
        if active_only:
            where.append("active")
        if category:
            where.append("category = %s")
            params.append(category)
        if min_price is not None:
            where.append("price >= %s")
            params.append(min_price)
        if max_price is not None:
            where.append("price <= %s")
            params.append(max_price)
        if exclude_sku:
            where.append("sku <> %s")
            params.append(exclude_sku)
        literal = "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float32)) + "]"
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute("SET LOCAL hnsw.ef_search = %s", (max(40, 2 * k),))
            cur.execute(
                f"""SELECT sku, 1 - (embedding <=> %s::vector) AS similarity
                      FROM {index.table(self.schema)} WHERE {' AND '.join(where)}
                     ORDER BY embedding <=> %s::vector LIMIT %s""",
                [literal, *params, literal, k])
            return [(r[0], float(r[1])) for r in cur.fetchall()]


def vector_store_from_settings(settings, url: str) -> PgVectorStore:
    """The configured vector store (``ENRICHMENT_VECTOR_STORE``, default ``pgvector``)."""
    import os

    from enrichment.config import ConfigError

    backend = os.environ.get("ENRICHMENT_VECTOR_STORE", "pgvector")
    if backend == "pgvector":
        return PgVectorStore(url, settings.state_schema)
    raise ConfigError(f"ENRICHMENT_VECTOR_STORE={backend!r} is not a known vector store (pgvector)")
