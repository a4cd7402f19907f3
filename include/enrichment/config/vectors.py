"""Vector stores: pgvector (the system of record), its HNSW indexes, the Pinecone sink."""

from __future__ import annotations

from dataclasses import dataclass

from enrichment.config.declare import read_fields, setting


@dataclass(frozen=True)
class VectorSettings:
    """Which vector store and sinks, and the pgvector HNSW parameters."""

    store: str = setting(
        "ENRICHMENT_VECTOR_STORE", "text", "pgvector", "vector store (pgvector is the only one)"
    )
    sinks: tuple[str, ...] = setting(
        "ENRICHMENT_VECTOR_SINKS",
        "list",
        (),
        "production vector stores mirroring every pgvector write (pinecone)",
        lower=True,
    )
    hnsw_m: int = setting(
        "ENRICHMENT_HNSW_M", "int", 16, "HNSW graph degree of new pgvector indexes", low=2, high=100
    )
    hnsw_ef_construction: int = setting(
        "ENRICHMENT_HNSW_EF_CONSTRUCTION",
        "int",
        64,
        "HNSW candidate list while building pgvector indexes",
        low=4,
        high=1000,
    )
    hnsw_build_workers: int = setting(
        "ENRICHMENT_HNSW_BUILD_WORKERS",
        "int",
        2,
        "parallel maintenance workers PostgreSQL may add to an HNSW build "
        "(max_parallel_maintenance_workers; 0: the building session alone)",
        low=0,
        high=64,
    )
    hnsw_ef_search: int = setting(
        "ENRICHMENT_HNSW_EF_SEARCH",
        "int",
        100,
        "HNSW candidate list of a similarity query (raised to k when smaller)",
        low=1,
        high=1000,
    )

    @classmethod
    def from_env(cls) -> VectorSettings:
        return cls(**read_fields(cls))


@dataclass(frozen=True)
class PineconeSettings:
    """``ENRICHMENT_PINECONE_*``: the Pinecone vector sink."""

    api_key: str | None = setting(
        "ENRICHMENT_PINECONE_API_KEY", "text", doc="Pinecone API key", secret=True
    )
    host: str | None = setting(
        "ENRICHMENT_PINECONE_HOST",
        "text",
        doc="data-plane host of the text index; {dim} is replaced by the vector dimension",
    )
    index: str | None = setting(
        "ENRICHMENT_PINECONE_INDEX",
        "text",
        doc="name of the text index (when no host is given); {dim} as above",
    )
    image_host: str | None = setting(
        "ENRICHMENT_PINECONE_IMAGE_HOST",
        "text",
        doc="data-plane host of the image index (unset: the text index)",
    )
    image_index: str | None = setting(
        "ENRICHMENT_PINECONE_IMAGE_INDEX",
        "text",
        doc="name of the image index (unset: the text index)",
    )
    controller_host: str | None = setting(
        "ENRICHMENT_PINECONE_CONTROLLER_HOST",
        "text",
        doc="control-plane host (unset: Pinecone's; set for a local Pinecone)",
    )
    batch_size: int = setting(
        "ENRICHMENT_PINECONE_BATCH_SIZE", "int", 100, "vectors per upsert request", low=1
    )
    retries: int = setting(
        "ENRICHMENT_PINECONE_RETRIES",
        "int",
        3,
        "retries of a control-plane request (the SDK's data plane always retries 3 times)",
        low=0,
    )
    retry_backoff: float = setting(
        "ENRICHMENT_PINECONE_RETRY_BACKOFF",
        "number",
        1.0,
        "least wait between control-plane retries, seconds (jittered, growing)",
        above=0,
    )
    concurrency: int = setting(
        "ENRICHMENT_PINECONE_CONCURRENCY", "int", 4, "upsert requests in flight", low=1
    )
    timeout: float = setting(
        "ENRICHMENT_PINECONE_TIMEOUT",
        "number",
        30.0,
        "timeout of one Pinecone call, seconds",
        above=0,
    )

    @classmethod
    def from_env(cls) -> PineconeSettings:
        return cls(**read_fields(cls))
