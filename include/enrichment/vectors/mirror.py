"""Vector sinks: production vector stores that mirror every pgvector write.

pgvector (:class:`enrichment.vectors.store.PgVectorStore`) stays the system of record that
change detection, status, quality, blue/green switching and ``similar`` read. With
``ENRICHMENT_VECTOR_SINKS=pinecone`` :func:`enrichment.vectors.store.vector_store_from_settings`
returns a :class:`MirroredVectorStore`: reads and everything else go to pgvector; the
writes (upserts, deletes, metadata, index versions created, switched, dropped) also go
to every sink.

Order of writes. Upserts go to the sinks FIRST, then to pgvector: the content-hash skip
of :mod:`enrichment.vectors.sync` reads pgvector, so a vector that reached pgvector but
not a sink would never be sent again. If a sink fails, pgvector is unchanged for the
batch and the retried shard re-embeds and re-sends it (every write is idempotent).
Deletes and metadata go to pgvector first, then to the sinks: a retried shard re-issues
them unconditionally. A sink that fell behind anyway (enabled on an existing
installation, or changed behind the platform's back) is repaired by :func:`resync`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from enrichment.config import ConfigError
from enrichment.config.vectors import VectorSettings
from enrichment.db.connection import connect
from enrichment.vectors.records import META_COLUMNS, SinkError, VectorIndex, VectorRecord
from enrichment.vectors.store import PgVectorStore

log = logging.getLogger(__name__)

KNOWN_SINKS = ("pinecone",)


def sink_names() -> list[str]:
    """The sinks named by ``ENRICHMENT_VECTOR_SINKS`` (comma list, empty by default)."""
    names = VectorSettings.from_env().sinks
    for name in names:
        if name not in KNOWN_SINKS:
            raise ConfigError(
                f"ENRICHMENT_VECTOR_SINKS: unknown vector sink {name!r} "
                f"(known: {', '.join(KNOWN_SINKS)})"
            )
    return list(dict.fromkeys(names))


class MirroredVectorStore:
    """pgvector plus sinks: reads from pgvector, writes to both (see module docstring)."""

    def __init__(self, primary: PgVectorStore, sinks: list[Any]):
        self.primary = primary
        self.sinks = sinks
        self._seen: set[str] = set()

    def __getattr__(self, name: str) -> Any:  # reads, HNSW builds, registry...
        return getattr(self.primary, name)

    # -- index versions ------------------------------------------------------------------
    def ensure_index(self, kind: str, model_id: str, prep_version: str, dim: int) -> VectorIndex:
        for sink in self.sinks:  # a sink that cannot hold this dimension fails first
            sink.check_version(kind, dim)
        index = self.primary.ensure_index(kind, model_id, prep_version, dim)
        if index.name not in self._seen:
            self._seen.add(index.name)
            if index.state == "active":
                for sink in self.sinks:
                    sink.activate(index, only_if_unset=True)
        return index

    def switched(self, kind: str, active: str, retired: list[str]) -> None:
        """Tell the sinks that ``active`` became the active version of ``kind``."""
        index = self.primary.get_index(active)
        if index is None:
            return
        for sink in self.sinks:
            try:
                sink.activate(index)
            except SinkError as exc:
                raise SinkError(
                    f"{active} is the active {kind} version in pgvector, but {sink.name} could "
                    f"not be told ({exc}); run `python -m enrichment vector-sinks sync` to repair"
                ) from exc

    def sink_problems(self, index: VectorIndex) -> list[str]:
        """Sinks whose copy of ``index`` holds another number of vectors than pgvector."""
        expected = self.primary.count(index)
        problems = []
        for sink in self.sinks:
            held = sink.count(index)
            if held != expected:
                problems.append(
                    f"{sink.name} namespace {index.name} holds {held} vectors, pgvector {expected}"
                )
        return problems

    def drop_index(self, name: str) -> None:
        index = self.primary.get_index(name)
        self.primary.drop_index(name)
        if index is not None:
            for sink in self.sinks:
                sink.drop(index)

    # -- writes --------------------------------------------------------------------------
    def upsert(self, index: VectorIndex, records: list[VectorRecord], **kw: Any) -> int:
        records = list({r.sku: r for r in records}.values())
        for r in records:
            if np.shape(r.vector) != (index.dim,):
                raise ValueError(
                    f"{r.sku}: vector has shape {np.shape(r.vector)}, index {index.name} "
                    f"expects ({index.dim},)"
                )
        for sink in self.sinks:
            sink.upsert(index, records)
        return self.primary.upsert(index, records, **kw)

    def delete(self, skus: list[str]) -> int:
        removed = self.primary.delete(skus)
        if skus:
            versions = self.primary.indexes()
            for sink in self.sinks:
                sink.delete(versions, skus)
        return removed

    def delete_from(self, index: VectorIndex, skus: list[str]) -> int:
        removed = self.primary.delete_from(index, skus)
        if skus:
            for sink in self.sinks:
                sink.delete([index], skus)
        return removed

    def update_metadata(self, kind: str | None, metadata: dict[str, dict]) -> int:
        """Metadata to pgvector, then to the sinks.

        A sink's partial update can set a field but never clear one, so a SKU whose new
        metadata has an empty field is re-sent whole from pgvector's updated row instead.
        """
        updated = self.primary.update_metadata(kind, metadata)
        if not metadata:
            return updated
        full = {
            s: m for s, m in metadata.items() if all(m.get(c) is not None for c in META_COLUMNS)
        }
        partial = [s for s in metadata if s not in full]
        versions = self.primary.indexes(kind)
        for sink in self.sinks:
            sink.update_metadata(versions, full)
        if partial:
            for index in versions:
                records = stored_records(self.primary, index, skus=partial)
                for sink in self.sinks:
                    if records and sink.mirrors(index):
                        sink.upsert(index, records)
        return updated


def stored_records(
    store: PgVectorStore,
    index: VectorIndex,
    *,
    skus: list[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[VectorRecord]:
    """Rows of ``index`` as records (those of ``skus``, or a page ordered by SKU)."""
    with connect(store.url) as conn, conn.cursor() as cur:
        cur.execute(
            f"""SELECT sku, embedding::real[], content_hash, category, brand, price, active
                  FROM {index.table(store.schema)}
                 WHERE (%s::text[] IS NULL OR sku = ANY(%s)) AND (%s::text IS NULL OR sku > %s)
                 ORDER BY sku LIMIT %s""",
            (skus, skus, after, after, limit),
        )
        rows = cur.fetchall()
    return [
        VectorRecord(
            sku,
            np.asarray(vec, dtype=np.float32),
            content_hash,
            {"category": category, "brand": brand, "price": price, "active": active},
        )
        for sku, vec, content_hash, category, brand, price, active in rows
    ]


def _pages(store: PgVectorStore, index: VectorIndex, page: int) -> Iterator[list[VectorRecord]]:
    after = None
    while True:
        records = stored_records(store, index, after=after, limit=page)
        if not records:
            return
        yield records
        after = records[-1].sku


def resync(
    store: MirroredVectorStore, index: VectorIndex, *, everything: bool = False, page: int = 1000
) -> dict[str, dict[str, int]]:
    """Make every sink's copy of ``index`` hold exactly pgvector's SKUs.

    Sends the vectors a sink lacks (all of them with ``everything``, which also refreshes
    metadata changed behind the platform's back) and deletes the ones pgvector does not
    have. Returns per sink ``{"sent": n, "deleted": n}``.
    """
    out = {}
    for sink in store.sinks:
        held = set(sink.list_skus(index))
        seen: set[str] = set()
        sent = 0
        for records in _pages(store.primary, index, page):
            seen.update(r.sku for r in records)
            todo = records if everything else [r for r in records if r.sku not in held]
            if todo:
                sink.upsert(index, todo)
                sent += len(todo)
        extra = sorted(held - seen)
        if extra:
            sink.delete([index], extra)
        out[sink.name] = {"sent": sent, "deleted": len(extra)}
        log.info("%s %s: sent %d vectors, deleted %d", sink.name, index.name, sent, len(extra))
    return out


def sink_report(store: MirroredVectorStore) -> list[dict]:
    """Every index version in every sink: vectors held vs pgvector, active marker."""
    rows = []
    for sink in store.sinks:
        for index in store.primary.indexes():
            row = {
                "sink": sink.name,
                "version": index.name,
                "kind": index.kind,
                "state": index.state,
                "dim": index.dim,
                "pgvector": store.primary.count(index),
            }
            try:
                if not sink.mirrors(index):
                    row["note"] = "retired version of another dimension: not in this sink"
                    row["ok"] = True
                    rows.append(row)
                    continue
                sink.check_version(index.kind, index.dim)
                row["sink_vectors"] = sink.count(index)
                if index.state == "active":
                    row["marker"] = sink.active_namespace(index)
            except (ConfigError, SinkError) as exc:
                row["error"] = str(exc)
            row["ok"] = (
                "error" not in row
                and row["sink_vectors"] == row["pgvector"]
                and row.get("marker", index.name) == index.name
            )
            rows.append(row)
    return rows
