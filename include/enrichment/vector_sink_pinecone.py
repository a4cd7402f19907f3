"""Pinecone as a vector sink: a mirror of the pgvector index versions (official SDK).

Layout: one Pinecone index per vector kind (``ENRICHMENT_PINECONE_HOST`` and/or
``ENRICHMENT_PINECONE_INDEX``; image vectors use ``ENRICHMENT_PINECONE_IMAGE_*`` when
set, else the same index, which then needs the same dimension), and one namespace per
index version, named like the version, so blue/green maps onto namespaces: a building
version fills its namespace, ``index switch`` records the active one, ``index drop``
deletes the namespace. The namespace ``enrichment-active`` holds one marker record per
kind (id ``text``/``image``) whose metadata ``namespace`` names the active version,
for consumers without access to the platform database.

Vector id = SKU (percent-encoded when it is not printable ASCII or contains ``%``);
metadata = category, brand, price, active, model_id, content_hash (None values dropped:
Pinecone metadata holds strings, numbers, booleans and lists of strings).

Upserts go in batches (``ENRICHMENT_PINECONE_BATCH_SIZE``), deletes by id per namespace,
metadata refreshes as one set_metadata update per id (concurrently); an id or namespace
that is already gone is not an error. Connection, retries and ids:
:mod:`enrichment.pinecone_client`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np

from enrichment.pinecone_client import (
    MAX_ID_LENGTH,
    PineconeConnection,
    Target,
    chunks,
    ignore_missing,
    pinecone_metadata,
    sku_of,
    vector_id,
)
from enrichment.vectors import META_COLUMNS, VectorIndex, VectorRecord

log = logging.getLogger(__name__)

MARKER_NAMESPACE = "enrichment-active"
DELETE_BATCH = 1000  # ids per delete request (Pinecone's limit)


class PineconeVectorSink:
    """Mirrors index versions into Pinecone namespaces (see module docstring)."""

    name = "pinecone"

    def __init__(self, settings: Any, registry: Callable[..., list[VectorIndex]]):
        self.settings = settings
        self.registry = registry  # the platform's index versions (pgvector's registry)
        self.conn = PineconeConnection()
        self._checked: set[tuple[str, int]] = set()

    def _active(self, kind: str) -> VectorIndex | None:
        return next((v for v in self.registry(kind) if v.state == "active"), None)

    def _target(self, kind: str) -> Target:
        """The kind's Pinecone index; checked once against the active version's dimension."""
        target = self.conn.target(kind)
        if (kind, 0) not in self._checked:
            active = self._active(kind)
            if active is not None:
                target.require_dim(
                    active.dim,
                    f"the active {kind} index version {active.name} ({active.model_id}) has",
                )
            self._checked.add((kind, 0))
        return target

    def check_version(self, kind: str, dim: int) -> None:
        """ConfigError unless vectors of ``dim`` fit the Pinecone index of ``kind``."""
        if (kind, dim) not in self._checked:
            self._target(kind).require_dim(
                dim, f"the configured {kind} model writes vectors of dimension"
            )
            self._checked.add((kind, dim))

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, index: VectorIndex, records: list[VectorRecord]) -> int:
        target = self._target(index.kind)
        target.require_dim(
            index.dim, f"the {index.state} {index.kind} index version {index.name} has"
        )
        vectors = []
        for r in records:
            vid = vector_id(r.sku)
            if len(vid) > MAX_ID_LENGTH:
                log.warning("pinecone: SKU %r is too long for a vector id; not mirrored", r.sku)
                continue
            meta = pinecone_metadata(
                {c: r.metadata.get(c) for c in META_COLUMNS},
                model_id=index.model_id,
                content_hash=r.content_hash,
            )
            values = np.asarray(r.vector, dtype=np.float32).astype(float).tolist()
            vectors.append({"id": vid, "values": values, "metadata": meta})
        ns = index.name
        self.conn.run(
            [
                (
                    f"upsert of {len(batch)} vectors into namespace {ns}",
                    partial(target.index.upsert, vectors=batch, namespace=ns),
                )
                for batch in chunks(vectors, self.conn.batch_size)
            ]
        )
        return len(vectors)

    def delete(self, versions: list[VectorIndex], skus: list[str]) -> None:
        ids = [vector_id(s) for s in skus]
        calls = []
        for version in versions:
            target = self._target(version.kind)
            for batch in chunks(ids, DELETE_BATCH):
                calls.append(
                    (
                        f"delete of {len(batch)} ids from namespace {version.name}",
                        ignore_missing(
                            partial(target.index.delete, ids=batch, namespace=version.name)
                        ),
                    )
                )
        self.conn.run(calls)

    def update_metadata(self, versions: list[VectorIndex], metadata: dict[str, dict]) -> None:
        """One set_metadata update per SKU and version; an id the namespace lacks is skipped."""
        calls = []
        for version in versions:
            target = self._target(version.kind)
            for sku, meta in metadata.items():
                values = pinecone_metadata({c: meta.get(c) for c in META_COLUMNS})
                update = partial(
                    target.index.update,
                    id=vector_id(sku),
                    set_metadata=values,
                    namespace=version.name,
                )
                calls.append(
                    (
                        f"metadata update of {sku} in namespace {version.name}",
                        ignore_missing(update),
                    )
                )
        self.conn.run(calls)

    def activate(self, index: VectorIndex, *, only_if_unset: bool = False) -> None:
        """Point the kind's marker record at ``index``'s namespace."""
        target = self._target(index.kind)
        if only_if_unset and self.active_namespace(index.kind) == index.name:
            return
        values = [0.0] * target.dim
        values[0] = 1.0
        meta = {
            "namespace": index.name,
            "model_id": index.model_id,
            "dim": index.dim,
            "prep_version": index.prep_version,
            "activated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.conn.call(
            f"marker update for {index.kind}",
            lambda: target.index.upsert(
                vectors=[{"id": index.kind, "values": values, "metadata": meta}],
                namespace=MARKER_NAMESPACE,
            ),
        )
        log.info("pinecone: %s namespace %s is active", index.kind, index.name)

    def drop(self, index: VectorIndex) -> None:
        target = self._target(index.kind)
        self.conn.call(
            f"delete of namespace {index.name}",
            ignore_missing(partial(target.index.delete_namespace, name=index.name)),
        )

    # -- reads ----------------------------------------------------------------------------
    def active_namespace(self, kind: str) -> str | None:
        """The namespace the marker names as active for ``kind`` (None if unset)."""
        target = self._target(kind)
        found = self.conn.call(
            f"marker fetch for {kind}",
            ignore_missing(partial(target.index.fetch, ids=[kind], namespace=MARKER_NAMESPACE)),
        )
        record = found.vectors.get(kind) if found is not None else None
        return (record.metadata or {}).get("namespace") if record is not None else None

    def namespace_counts(self, kind: str) -> dict[str, int]:
        target = self._target(kind)
        stats = self.conn.call("describe_index_stats", target.index.describe_index_stats)
        return {ns: s.vector_count for ns, s in stats.namespaces.items()}

    def count(self, index: VectorIndex) -> int:
        """Vectors in the namespace of ``index`` (Pinecone's counts lag writes slightly)."""
        return self.namespace_counts(index.kind).get(index.name, 0)

    def count_skus(self, kind: str) -> int:
        """Vectors in the namespace of the active version of ``kind`` (0 if none)."""
        active = self._active(kind)
        return self.count(active) if active is not None else 0

    def list_skus(self, index: VectorIndex) -> Iterator[str]:
        target = self._target(index.kind)
        token = None
        while True:
            page = self.conn.call(
                f"list of namespace {index.name}",
                ignore_missing(
                    partial(
                        target.index.list_paginated,
                        namespace=index.name,
                        limit=100,
                        pagination_token=token,
                    )
                ),
            )
            if page is None:
                return
            yield from (sku_of(v.id) for v in page.vectors if v.id)
            token = page.pagination.next if page.pagination else None
            if not token:
                return

    def status(self, kinds: tuple[str, ...]) -> dict:
        out = {}
        for kind in kinds:
            active = self._active(kind)
            out[kind] = {
                "index": self._target(kind).label,
                "namespace": active.name if active else None,
                "vectors": self.count(active) if active else 0,
                "marker": self.active_namespace(kind),
            }
        return out
