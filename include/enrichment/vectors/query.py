"""Filtered kNN over a pgvector index version, and "similar products" by SKU.

Queries use the HNSW index (cosine distance) with ``hnsw.ef_search`` candidates
(``ENRICHMENT_HNSW_EF_SEARCH``, default 100). pgvector filters *after* the graph search,
so a selective filter (a small category, a narrow price range) can leave fewer than ``k``
rows; such a query is re-run as an exact scan over the filtered rows, which is fast
precisely because the filter is selective. ``similar`` reads the query vector inside the
database (one round trip) and retries once if the version it resolved was dropped
between resolving and querying, so a blue/green switch never fails a query.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import psycopg2.errors

from enrichment.config.vectors import VectorSettings
from enrichment.db.connection import connect
from enrichment.vectors.records import IndexedVectors, VectorIndex
from enrichment.vectors.writes import vector_literal

log = logging.getLogger(__name__)


class UnknownSku(LookupError):
    """The SKU has no vector in the index version queried."""


@dataclass
class Neighbour:
    sku: str
    score: float  # cosine similarity, 1 = same direction
    category: str | None = None
    brand: str | None = None
    price: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def default_ef_search() -> int:
    """``ENRICHMENT_HNSW_EF_SEARCH`` (1..1000, default 100)."""
    return VectorSettings.from_env().hnsw_ef_search


def _filters(
    category: str | None,
    active_only: bool,
    min_price: float | None,
    max_price: float | None,
    exclude_sku: str | None,
) -> tuple[list[str], dict]:
    where, params = [], {}
    if active_only:
        where.append("active")
    if category:
        where.append("category = %(category)s")
        params["category"] = category
    if min_price is not None:
        where.append("price >= %(min_price)s")
        params["min_price"] = min_price
    if max_price is not None:
        where.append("price <= %(max_price)s")
        params["max_price"] = max_price
    if exclude_sku:
        where.append("sku <> %(exclude)s")
        params["exclude"] = exclude_sku
    return where, params


def knn_sql(table: str, where: list[str], *, by_sku: bool, exact: bool) -> str:
    """The kNN statement; parameters ``sku`` or ``vector``, ``k`` and the filters'.

    HNSW serves ``ORDER BY embedding <=> <constant>`` (here through the ``distance``
    alias); the exact form orders by an expression the index cannot serve.
    """
    target = (
        f"(SELECT embedding FROM {table} WHERE sku = %(sku)s)" if by_sku else "%(vector)s::vector"
    )
    order = f"(embedding <=> {target}) + 0" if exact else "distance"
    return (
        f"SELECT sku, embedding <=> {target} AS distance, category, brand, price "
        f"FROM {table}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {order} LIMIT %(k)s"
    )


def knn(
    store: IndexedVectors,
    index: VectorIndex,
    *,
    vector: np.ndarray | None = None,
    sku: str | None = None,
    k: int = 10,
    category: str | None = None,
    active_only: bool = True,
    min_price: float | None = None,
    max_price: float | None = None,
    exclude_sku: str | None = None,
    ef_search: int | None = None,
    exact: bool = False,
) -> list[Neighbour]:
    """The ``k`` nearest vectors to ``vector`` (or to the stored vector of ``sku``)."""
    if (vector is None) == (sku is None):
        raise ValueError("give exactly one of vector or sku")
    if k < 1:
        raise ValueError("k must be at least 1")
    table = index.table(store.schema)
    where, params = _filters(category, active_only, min_price, max_price, exclude_sku)
    params["k"] = k
    if sku is not None:
        params["sku"] = sku
    else:
        params["vector"] = vector_literal(vector)
    ef = max(ef_search or default_ef_search(), k)
    with connect(store.url) as conn, conn.cursor() as cur:
        if sku is not None:
            cur.execute(f"SELECT 1 FROM {table} WHERE sku = %s", (sku,))
            if cur.fetchone() is None:
                raise UnknownSku(f"{sku} has no vector in index {index.name}")
        cur.execute("SET LOCAL hnsw.ef_search = %s", (min(ef, 1000),))
        cur.execute(knn_sql(table, where, by_sku=sku is not None, exact=exact), params)
        rows = cur.fetchall()
        selective = bool(category or min_price is not None or max_price is not None)
        if not exact and selective and len(rows) < k:
            log.debug("filtered HNSW search returned %d < %d rows; exact scan", len(rows), k)
            cur.execute(knn_sql(table, where, by_sku=sku is not None, exact=True), params)
            rows = cur.fetchall()
    return [
        Neighbour(r[0], 1.0 - float(r[1]), r[2], r[3], float(r[4]) if r[4] is not None else None)
        for r in rows
    ]


def similar(
    store: IndexedVectors,
    kind: str,
    sku: str,
    *,
    k: int = 10,
    category: str | None = None,
    active_only: bool = True,
    min_price: float | None = None,
    max_price: float | None = None,
    ef_search: int | None = None,
    exact: bool = False,
) -> list[Neighbour]:
    """Products most similar to ``sku`` in the active ``kind`` index, itself excluded."""
    for attempt in range(2):
        index = store.active_index(kind)
        if index is None:
            raise LookupError(
                f"no active {kind} index yet: run the pipeline first"
                + (" with a CLIP model set (ENRICHMENT_CLIP_MODEL)" if kind == "image" else "")
            )
        try:
            return knn(
                store,
                index,
                sku=sku,
                k=k,
                category=category,
                active_only=active_only,
                min_price=min_price,
                max_price=max_price,
                exclude_sku=sku,
                ef_search=ef_search,
                exact=exact,
            )
        except psycopg2.errors.UndefinedTable:
            if attempt:
                raise
            log.info(
                "index %s was dropped while querying; resolving the active one again", index.name
            )
    raise AssertionError("unreachable")
