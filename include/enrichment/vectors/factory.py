"""The configured vector store: pgvector, mirrored into the sinks of ``ENRICHMENT_VECTOR_SINKS``."""

from __future__ import annotations

from typing import Any

from enrichment.config import ConfigError, Settings
from enrichment.config.vectors import VectorSettings
from enrichment.vectors.mirror import MirroredVectorStore, sink_names
from enrichment.vectors.pinecone_sink import PineconeVectorSink
from enrichment.vectors.store import PgVectorStore


def build_sink(name: str, settings: Settings, primary: PgVectorStore) -> Any:
    """One configured sink; its constructor validates its settings (no network yet)."""
    if name == "pinecone":
        return PineconeVectorSink(settings, registry=primary.indexes)
    raise ConfigError(f"ENRICHMENT_VECTOR_SINKS: unknown vector sink {name!r}")


def vector_store_from_settings(settings, url: str) -> PgVectorStore:
    """The configured vector store (``ENRICHMENT_VECTOR_STORE``, default ``pgvector``).

    With ``ENRICHMENT_VECTOR_SINKS`` (e.g. ``pinecone``) it is a
    :class:`enrichment.vectors.mirror.MirroredVectorStore`: the same interface, pgvector
    as the system of record, every write mirrored to the sinks.
    """
    backend = VectorSettings.from_env().store
    if backend != "pgvector":
        raise ConfigError(
            f"ENRICHMENT_VECTOR_STORE={backend!r} is not a known vector store (pgvector)"
        )
    store = PgVectorStore(url, settings.state_schema)
    names = sink_names()
    if not names:
        return store
    return MirroredVectorStore(store, [build_sink(n, settings, store) for n in names])


def sink_status(settings: Settings, url: str) -> dict:
    """``{sink: {kind: {"namespace": ..., "vectors": n}}}`` for ``status --json``.

    A sink that cannot answer reports ``{"error": "..."}`` instead of failing the status.
    """
    if not sink_names():
        return {}
    out: dict = {}
    try:
        store = vector_store_from_settings(settings, url)
    except ConfigError as exc:
        return {name: {"error": str(exc)} for name in sink_names()}
    for sink in getattr(store, "sinks", []):
        try:
            out[sink.name] = sink.status(settings.vector_kinds)
        except Exception as exc:  # noqa: BLE001 - status reports, the writes fail loudly
            out[sink.name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
