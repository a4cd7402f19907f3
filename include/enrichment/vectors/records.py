"""What a vector store holds: index versions, vector records, the store interfaces."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

META_COLUMNS = ("category", "brand", "price", "active")


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
    def ensure_index(
        self, kind: str, model_id: str, prep_version: str, dim: int
    ) -> VectorIndex: ...

    def upsert(self, index: VectorIndex, records: list[VectorRecord]) -> int: ...

    def delete(self, skus: list[str]) -> int: ...

    def update_metadata(self, kind: str, metadata: dict[str, dict]) -> int: ...

    def content_hashes(self, index: VectorIndex, skus: list[str]) -> dict[str, str]: ...


class IndexedVectors(Protocol):
    """What a query needs of a store: where its tables live and its active versions."""

    url: str
    schema: str

    def active_index(self, kind: str) -> VectorIndex | None: ...


class SinkError(RuntimeError):
    """A sink write failed after its retries (pgvector is consistent; re-run to resend)."""
