"""Pinecone as a vector sink: a mirror of the pgvector index versions (official SDK).

Layout: one namespace per index version, named like the version, so blue/green maps
onto namespaces: a building version fills its namespace, ``index switch`` records the
active one, ``index drop`` deletes the namespace. The namespaces live in the Pinecone
index named by ``ENRICHMENT_PINECONE_HOST`` and/or ``ENRICHMENT_PINECONE_INDEX`` (image
vectors: ``ENRICHMENT_PINECONE_IMAGE_*`` when set, else the same index). Its dimension
must match every version written to it; with ``{dim}`` in the setting (``products-{dim}``)
each dimension has its own index, so a model change to another dimension still works.
The namespace ``enrichment-active`` of each of those indexes holds one marker record per
kind (id ``text``/``image``) whose metadata names the active ``namespace`` and ``index``,
for consumers without access to the platform database.

Vector id = SKU (percent-encoded when it is not printable ASCII or contains ``%``);
metadata = category, brand, price, active, model_id, content_hash (None values dropped:
Pinecone metadata holds strings, numbers, booleans and lists of strings).

Upserts use the SDK's batched, concurrent upsert (``batch_size`` =
``ENRICHMENT_PINECONE_BATCH_SIZE``, ``max_concurrency`` = ``ENRICHMENT_PINECONE_CONCURRENCY``);
a batch still failing after the SDK's retries fails the shard naming it. Deletes go by id
per namespace in requests of at most 1000 ids (Pinecone's limit; the SDK does not split
deletes). Metadata refreshes are one set_metadata update per id, run on a small thread
pool because the SDK has no batched per-id update (its ``async_req`` does not cover
``update``). An id or namespace that is already gone is not an error. Connection,
errors and ids: :mod:`enrichment.vectors.pinecone_client`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial

import numpy as np

from enrichment.config import Settings
from enrichment.vectors.pinecone_client import (
    MAX_ID_LENGTH,
    PineconeConnection,
    Target,
    chunks,
    ignore_missing,
    pinecone_metadata,
    sku_of,
    vector_id,
)
from enrichment.vectors.records import META_COLUMNS, VectorIndex, VectorRecord

log = logging.getLogger(__name__)

MARKER_NAMESPACE = "enrichment-active"
DELETE_BATCH = 1000  # ids per delete request (Pinecone's limit)


def _reraise(exc: Exception) -> None:
    raise exc


class PineconeVectorSink:
    """Mirrors index versions into Pinecone namespaces (see module docstring)."""

    name = "pinecone"

    def __init__(self, settings: Settings, registry: Callable[..., list[VectorIndex]]):
        self.settings = settings
        self.registry = registry  # the platform's index versions (pgvector's registry)
        self.conn = PineconeConnection()
        self._checked: set[tuple[str, int]] = set()

    def _active(self, kind: str) -> VectorIndex | None:
        return next((v for v in self.registry(kind) if v.state == "active"), None)

    def _target(self, version: VectorIndex) -> Target:
        """The Pinecone index holding ``version``'s namespace (its dimension checked)."""
        target = self.conn.target(version.kind, version.dim)
        target.require_dim(
            version.dim, f"the {version.state} {version.kind} index version {version.name} has"
        )
        return target

    def mirrors(self, version: VectorIndex) -> bool:
        """Whether ``version`` can live in its Pinecone index. A retired version of another
        dimension cannot (it was never mirrored there): deletes and metadata skip it."""
        if version.state != "retired":
            return True
        return self.conn.target(version.kind, version.dim).dim == version.dim

    def check_version(self, kind: str, dim: int) -> None:
        """ConfigError unless vectors of ``dim`` fit the Pinecone index of ``kind``; the
        first call also checks the kind's active version."""
        if (kind, dim) in self._checked:
            return
        active = self._active(kind)
        if active is not None and (kind, active.dim) not in self._checked:
            self._target(active)
            self._checked.add((kind, active.dim))
        self.conn.target(kind, dim).require_dim(
            dim, f"the configured {kind} model writes vectors of dimension"
        )
        self._checked.add((kind, dim))

    # -- writes ---------------------------------------------------------------------------
    def upsert(self, index: VectorIndex, records: list[VectorRecord]) -> int:
        target = self._target(index)
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
        if not vectors:
            return 0
        ns = index.name
        resp = self.conn.call(
            f"upsert of {len(vectors)} vectors into namespace {ns}",
            partial(
                target.index.upsert,
                vectors=vectors,
                namespace=ns,
                batch_size=self.conn.batch_size,
                max_concurrency=self.conn.concurrency,
                show_progress=False,
            ),
        )
        if resp.has_errors:
            self._raise_batch_error(resp.errors[0], resp.failed_items, ns)
        return len(vectors)

    def _raise_batch_error(self, error, failed: list, ns: str) -> None:
        """The first failed batch of an upsert as the error :meth:`PineconeConnection.call`
        would have raised for it (the SDK reports failed batches instead of raising)."""
        skus = [sku_of(v["id"]) for v in failed]
        named = ", ".join(skus[:10]) + (f" and {len(skus) - 10} more" if len(skus) > 10 else "")
        what = f"upsert of {len(skus)} vectors into namespace {ns} (SKUs {named})"
        exc = error.error
        if isinstance(exc, Exception):
            self.conn.call(what, partial(_reraise, exc))
        raise self.conn.gave_up(what, error.error_message)

    def delete(self, versions: list[VectorIndex], skus: list[str]) -> None:
        ids = [vector_id(s) for s in skus]
        for version in filter(self.mirrors, versions):
            target = self._target(version)
            for batch in chunks(ids, DELETE_BATCH):
                self.conn.call(
                    f"delete of {len(batch)} ids from namespace {version.name}",
                    ignore_missing(partial(target.index.delete, ids=batch, namespace=version.name)),
                )

    def update_metadata(self, versions: list[VectorIndex], metadata: dict[str, dict]) -> None:
        """One set_metadata update per SKU and version; an id the namespace lacks is skipped."""
        calls = []
        for version in filter(self.mirrors, versions):
            target = self._target(version)
            for sku, meta in metadata.items():
                update = partial(
                    target.index.update,
                    id=vector_id(sku),
                    set_metadata=pinecone_metadata({c: meta.get(c) for c in META_COLUMNS}),
                    namespace=version.name,
                )
                calls.append(
                    (
                        f"metadata update of {sku} in namespace {version.name}",
                        ignore_missing(update),
                    )
                )
        self.conn.map(calls)

    def activate(self, index: VectorIndex, *, only_if_unset: bool = False) -> None:
        """Point the kind's marker at ``index``: in its Pinecone index, and in those of the
        kind's other versions when they live elsewhere (``{dim}`` in the index setting)."""
        target = self._target(index)
        if only_if_unset and self.active_namespace(index) == index.name:
            return
        meta = {
            "namespace": index.name,
            "index": target.label,
            "model_id": index.model_id,
            "dim": index.dim,
            "prep_version": index.prep_version,
            "activated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        targets = {target.label: target}
        for other in self.registry(index.kind):
            if self.mirrors(other):
                targets.setdefault(self._target(other).label, self._target(other))
        for t in targets.values():
            marker = {"id": index.kind, "values": [1.0] + [0.0] * (t.dim - 1), "metadata": meta}
            self.conn.call(
                f"marker update for {index.kind} in {t.label}",
                partial(t.index.upsert, vectors=[marker], namespace=MARKER_NAMESPACE),
            )
        log.info("pinecone: %s namespace %s of %s is active", index.kind, index.name, target.label)

    def drop(self, index: VectorIndex) -> None:
        if self.mirrors(index):
            self.conn.call(
                f"delete of namespace {index.name}",
                ignore_missing(
                    partial(self._target(index).index.delete_namespace, name=index.name)
                ),
            )

    # -- reads ----------------------------------------------------------------------------
    def active_namespace(self, index: VectorIndex) -> str | None:
        """The namespace the marker in ``index``'s Pinecone index names as active."""
        target = self._target(index)
        found = self.conn.call(
            f"marker fetch for {index.kind}",
            ignore_missing(
                partial(target.index.fetch, ids=[index.kind], namespace=MARKER_NAMESPACE)
            ),
        )
        record = found.vectors.get(index.kind) if found is not None else None
        return (record.metadata or {}).get("namespace") if record is not None else None

    def count(self, index: VectorIndex) -> int:
        """Vectors in the namespace of ``index`` (Pinecone's counts lag writes slightly)."""
        if not self.mirrors(index):
            return 0
        target = self._target(index)
        stats = self.conn.call("describe_index_stats", target.index.describe_index_stats)
        summary = stats.namespaces.get(index.name)
        return summary.vector_count if summary is not None else 0

    def count_skus(self, kind: str) -> int:
        """Vectors in the namespace of the active version of ``kind`` (0 if none)."""
        active = self._active(kind)
        return self.count(active) if active is not None else 0

    def list_skus(self, index: VectorIndex) -> Iterator[str]:
        target = self._target(index)
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
        """Per kind: the active version's Pinecone index, namespace, vectors and marker."""
        out: dict = {}
        for kind in kinds:
            active = self._active(kind)
            out[kind] = {"index": None, "namespace": None, "vectors": 0, "marker": None}
            if active is not None:
                out[kind] = {
                    "index": self._target(active).label,
                    "namespace": active.name,
                    "vectors": self.count(active),
                    "marker": self.active_namespace(active),
                }
        return out
