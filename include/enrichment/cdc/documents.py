"""Read product documents through a source mapping: by keys, in key-ordered pages, or all keys.

The mapping's document query is wrapped as ``SELECT ... FROM (<document>) d`` so the
predicates on the key (``= ANY``, ``>`` with ``ORDER BY key LIMIT``) reach the shop's
own key index when the query is plain joins and LATERAL subqueries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from enrichment.background import run_ahead
from enrichment.cdc.detect import ProductSnapshot
from enrichment.cdc.mapping_types import DOCUMENT_COLUMNS, MappingError, SourceMapping

PAGE_SIZE = 5_000
_ORDER = (
    "sku",
    "product_id",
    "active",
    "title",
    "description",
    "brand",
    "category",
    "price",
    "currency",
    "stock",
    "language",
    "images",
    "image_versions",
    "updated_at",
)


def document_columns(conn, mapping: SourceMapping) -> list[str]:
    """The columns the document query returns; MappingError names a missing one."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM ({mapping.document}) d LIMIT 0")
        have = [c.name for c in cur.description]
    need = [c for c, required in DOCUMENT_COLUMNS.items() if required and c != "sku"]
    missing = [c for c in [mapping.key, *need] if c not in have]
    if missing:
        raise MappingError(
            f"{mapping.source}, document: the query returns no column {', '.join(missing)} "
            f"(it returns {', '.join(have)})"
        )
    return have


def _select(conn, mapping: SourceMapping) -> str:
    have = set(document_columns(conn, mapping))
    cols = [f"d.{mapping.key}::text"]
    for name in _ORDER[1:]:
        cols.append(f"d.{name}" if name in have else "NULL")
    return ", ".join(cols)


def _snapshot(row: tuple) -> ProductSnapshot:
    """A document row (the columns of ``_ORDER``) as a snapshot."""
    images, versions = row[11] or (), row[12] or ()
    if len(versions) != len(images):
        raise MappingError(f"document {row[0]!r}: images and image_versions differ in length")
    return ProductSnapshot.from_columns(*row)


FIRST_BATCH = 500


def _growing(limit: int) -> Iterator[int]:
    """Batch sizes from ``FIRST_BATCH`` doubling up to ``limit``: the caller's work starts
    after a small first query, the later ones are read ahead."""
    size = min(FIRST_BATCH, limit)
    while True:
        yield size
        size = min(limit, size * 2)


def _ramped(keys: list[str], batch: int) -> Iterator[list[str]]:
    """``keys`` in consecutive slices of :func:`_growing` sizes."""
    start = 0
    for size in _growing(batch):
        if start >= len(keys):
            return
        yield keys[start : start + size]
        start += size


def _snapshots(pages: Callable[[], Iterator[list[tuple]]]) -> Iterator[ProductSnapshot]:
    """The snapshots of ``pages()`` (lists of document rows), the next page read ahead."""
    for rows in run_ahead(pages, name="documents"):
        yield from map(_snapshot, rows)


def read_documents(
    conn, mapping: SourceMapping, keys: Iterable[str], batch: int = PAGE_SIZE
) -> Iterator[ProductSnapshot]:
    """The current documents of ``keys`` (keys with no document are simply absent),
    grouped by key (documents sharing a key are adjacent). The next batch is queried
    while the caller handles this one."""
    keys = sorted(set(keys))
    select = _select(conn, mapping)

    def pages() -> Iterator[list[tuple]]:
        for part in _ramped(keys, batch):
            with conn.cursor() as cur:
                cur.execute(
                    f"SELECT {select} FROM ({mapping.document}) d "
                    f"WHERE d.{mapping.key}::text = ANY(%s) ORDER BY d.{mapping.key}::text",
                    (part,),
                )
                yield cur.fetchall()

    yield from _snapshots(pages)


def scan_documents(
    conn,
    mapping: SourceMapping,
    *,
    where: list[str] | None = None,
    params: list | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[ProductSnapshot]:
    """Every document (optionally filtered on ``d.<column>``), in key-ordered keyset pages
    growing to ``page_size``; the next page is queried while the caller handles this one.

    Documents sharing a key are never split across pages: a full page ends before its
    last key, which the next page starts with (a page holding one key only reads that
    key's documents whole).
    """
    select, key = _select(conn, mapping), f"d.{mapping.key}::text"

    def pages() -> Iterator[list[tuple]]:
        after, inclusive = None, False
        sizes = _growing(page_size)
        size = next(sizes)
        while True:
            clauses, values = list(where or []), list(params or [])
            if after is not None:
                clauses.append(f"{key} {'>=' if inclusive else '>'} %s")
                values.append(after)
            cond = " AND ".join(clauses) or "true"
            with conn.cursor() as cur:
                cur.execute(
                    f"SELECT {select} FROM ({mapping.document}) d WHERE {cond} "
                    f"ORDER BY {key} LIMIT %s",
                    [*values, size],
                )
                rows = cur.fetchall()
            if len(rows) < size:
                yield rows
                return
            last = rows[-1][0]
            head = [row for row in rows if row[0] != last]
            if not head:  # one key fills the page: read all of its documents at once
                with conn.cursor() as cur:
                    cur.execute(
                        f"SELECT {select} FROM ({mapping.document}) d WHERE {cond} AND {key} = %s",
                        [*values, last],
                    )
                    head = cur.fetchall()
            yield head
            after, inclusive = last, head[-1][0] != last
            size = next(sizes)

    yield from _snapshots(pages)


def key_states(conn, mapping: SourceMapping, keys: Iterable[str] | None = None) -> dict[str, bool]:
    """Every document's key -> ``active`` (or only those of ``keys``): the source as the
    mapping sees it."""
    sql = f"SELECT d.{mapping.key}::text, d.active FROM ({mapping.document}) d"
    with conn.cursor() as cur:
        if keys is None:
            cur.execute(sql)
        else:
            cur.execute(f"{sql} WHERE d.{mapping.key}::text = ANY(%s)", (sorted(set(keys)),))
        return {k: bool(a) for k, a in cur.fetchall()}
