"""Vector stores: versioned text and image vectors, pgvector by default.

Every index version is registered in ``{schema}.vector_indexes`` (kind, model, text
preparation version, dimension, state) and stored in its own table
``{schema}.vec_<name>``: SKU, vector, model id, content hash, metadata (category, brand,
price, active) and timestamps, with an HNSW cosine index. One version per kind is
``active`` (queried); a model change creates a ``building`` version that a backfill fills
and ``switch`` activates atomically once complete (see :mod:`enrichment.bluegreen.vector_versions`).
Every version, the first one of a fresh install included, gets its HNSW index after the
bulk fill (one bulk build is much cheaper than growing the graph row by row; see
``bench/stores.py``).

Writes (upserts, deletes, metadata) live in :mod:`enrichment.vectors.writes`; filtered
kNN and "similar products" in :mod:`enrichment.vectors.query`.
"""

from __future__ import annotations

import re

import numpy as np

from enrichment.config.vectors import VectorSettings
from enrichment.db.connection import connect
from enrichment.vectors.records import VectorIndex, index_name
from enrichment.vectors.writes import PgVectorWrites


class PgVectorStore(PgVectorWrites):
    """pgvector tables in the platform database."""

    def __init__(self, url: str, schema: str):
        self.url = url
        self.schema = schema
        vectors = VectorSettings.from_env()
        self.hnsw_m = vectors.hnsw_m
        self.hnsw_ef_construction = vectors.hnsw_ef_construction
        self.hnsw_build_workers = vectors.hnsw_build_workers

    # -- index registry ----------------------------------------------------------------
    def indexes(self, kind: str | None = None) -> list[VectorIndex]:
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT name, kind, model_id, prep_version, dim, state "
                f"FROM {self.schema}.vector_indexes WHERE %s::text IS NULL OR kind = %s "
                "ORDER BY created_at",
                (kind, kind),
            )
            return [VectorIndex(*row) for row in cur.fetchall()]

    def get_index(self, name: str) -> VectorIndex | None:
        return next((i for i in self.indexes() if i.name == name), None)

    def active_index(self, kind: str) -> VectorIndex | None:
        return next((i for i in self.indexes(kind) if i.state == "active"), None)

    def ensure_index(self, kind: str, model_id: str, prep_version: str, dim: int) -> VectorIndex:
        """The index version for this model, created when missing.

        The first version of a kind becomes active at once, a later one starts as
        ``building`` until it is switched to. Neither has its HNSW index yet: both are
        bulk-filled first (COPY into a plain table), then get it from :meth:`build_hnsw`
        (a run's commit for the first version, the switch for a later one).
        """
        name = index_name(kind, model_id, prep_version)
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"vecidx:{kind}",))
            cur.execute(
                f"SELECT name, kind, model_id, prep_version, dim, state "
                f"FROM {self.schema}.vector_indexes WHERE name = %s",
                (name,),
            )
            row = cur.fetchone()
            if row:
                return VectorIndex(*row)
            self._refuse_dropped(cur, kind, model_id, name)
            cur.execute(
                f"SELECT count(*) FROM {self.schema}.vector_indexes "
                "WHERE kind = %s AND state = 'active'",
                (kind,),
            )
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
                        updated_at   timestamptz NOT NULL DEFAULT clock_timestamp())"""
            )
            cur.execute(f"CREATE INDEX ON {table} (category)")
            cur.execute(f"CREATE INDEX ON {table} (content_hash)")
            cur.execute(
                f"""INSERT INTO {self.schema}.vector_indexes
                       (name, kind, model_id, prep_version, dim, state, activated_at)
                    VALUES (%s, %s, %s, %s, %s, %s,
                            CASE WHEN %s = 'active' THEN clock_timestamp() END)""",
                (name, kind, model_id, prep_version, dim, state, state),
            )
            return index

    def _hnsw_sql(self, index: VectorIndex) -> str:
        return (
            f"CREATE INDEX IF NOT EXISTS vec_{index.name}_hnsw ON {index.table(self.schema)} "
            f"USING hnsw (embedding vector_cosine_ops) "
            f"WITH (m = {self.hnsw_m}, ef_construction = {self.hnsw_ef_construction})"
        )

    def has_hnsw(self, index: VectorIndex) -> bool:
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND "
                "tablename = %s AND indexdef ILIKE '%%USING hnsw%%'",
                (self.schema, f"vec_{index.name}"),
            )
            return cur.fetchone()[0] > 0

    def build_hnsw(self, index: VectorIndex, memory: str = "512MB") -> bool:
        """Create the HNSW index of ``index`` if missing; returns whether it was built."""
        if self.has_hnsw(index):
            return False
        if not re.fullmatch(r"\d+(kB|MB|GB)", memory):
            raise ValueError(f"memory must look like 512MB, got {memory!r}")
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(f"SET LOCAL maintenance_work_mem = '{memory}'")
            cur.execute(
                "SELECT set_config('max_parallel_maintenance_workers', %s, true)",
                (str(self.hnsw_build_workers),),
            )
            cur.execute(self._hnsw_sql(index))
        return True

    def drop_index(self, name: str) -> None:
        """Drop an index version's table and registry row (callers check its state).

        The version is remembered as dropped, so a worker still configured with its model
        fails instead of quietly starting it again (see :meth:`undrop`).
        """
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self.schema}.vec_{name}")
            cur.execute(
                f"DELETE FROM {self.schema}.vector_indexes WHERE name = %s RETURNING kind, model_id",
                (name,),
            )
            row = cur.fetchone()
            if row:
                cur.execute(
                    f"INSERT INTO {self.schema}.dropped_vector_indexes (name, kind, model_id) "
                    "VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                    "dropped_at = clock_timestamp()",
                    (name, *row),
                )

    def undrop(self, name: str) -> bool:
        """Allow a dropped version to be built again; returns whether it was dropped."""
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                f"DELETE FROM {self.schema}.dropped_vector_indexes WHERE name = %s", (name,)
            )
            return cur.rowcount > 0

    def _refuse_dropped(self, cur, kind: str, model_id: str, name: str) -> None:
        cur.execute(
            f"SELECT dropped_at FROM {self.schema}.dropped_vector_indexes WHERE name = %s",
            (name,),
        )
        row = cur.fetchone()
        if row is None:
            return
        from enrichment.config import ConfigError

        setting = "ENRICHMENT_TEXT_MODEL" if kind == "text" else "ENRICHMENT_CLIP_MODEL"
        raise ConfigError(
            f"the configured {kind} model {model_id} writes to index version {name}, which "
            f"was dropped on {row[0]:%Y-%m-%d %H:%M}; set {setting} to the model of the "
            f"active version (see `python -m enrichment index versions`), or run "
            f"`python -m enrichment index undrop {name}` to build it again on purpose"
        )

    # -- reads ------------------------------------------------------------------------
    def content_hashes(self, index: VectorIndex, skus: list[str]) -> dict[str, str]:
        """``{sku: content_hash}`` already stored in ``index`` for ``skus``."""
        if not skus:
            return {}
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT sku, content_hash FROM {index.table(self.schema)} WHERE sku = ANY(%s)",
                (list(skus),),
            )
            return dict(cur.fetchall())

    def vectors_by_hash(self, index: VectorIndex, hashes: list[str]) -> dict[str, np.ndarray]:
        """One stored vector per content hash found in ``index`` (equal content, any SKU)."""
        if not hashes:
            return {}
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                f"""SELECT DISTINCT ON (content_hash) content_hash, embedding::real[]
                              FROM {index.table(self.schema)} WHERE content_hash = ANY(%s)""",
                (list(hashes),),
            )
            return {h: np.asarray(v, dtype=np.float32) for h, v in cur.fetchall()}

    def vectors(
        self, index: VectorIndex, skus: list[str] | None = None
    ) -> tuple[list[str], np.ndarray]:
        """(SKUs, matrix) of the vectors in ``index`` (all, or those of ``skus``)."""
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(
                f"SELECT sku, embedding::real[] FROM {index.table(self.schema)} "
                "WHERE %s::text[] IS NULL OR sku = ANY(%s) ORDER BY sku",
                (skus, skus),
            )
            rows = cur.fetchall()
        matrix = np.asarray([r[1] for r in rows], dtype=np.float32).reshape(len(rows), index.dim)
        return [r[0] for r in rows], matrix

    def vector_of(self, index: VectorIndex, sku: str) -> np.ndarray | None:
        skus, matrix = self.vectors(index, [sku])
        return matrix[0] if skus else None

    def count(self, index: VectorIndex) -> int:
        with connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {index.table(self.schema)}")
            return cur.fetchone()[0]

    def query(
        self, index: VectorIndex, vector: np.ndarray, k: int = 10, **filters
    ) -> list[tuple[str, float]]:
        """kNN by cosine similarity with filters; ``(sku, similarity)`` pairs."""
        from enrichment.vectors.query import knn

        return [(n.sku, n.score) for n in knn(self, index, vector=vector, k=k, **filters)]

    def similar(self, kind: str, sku: str, k: int = 10, **filters) -> list:
        """Neighbours of ``sku`` in the active index of ``kind`` (see vector_query)."""
        from enrichment.vectors.query import similar

        return similar(self, kind, sku, k=k, **filters)
