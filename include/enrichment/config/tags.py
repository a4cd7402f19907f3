"""Tag stores: PostgreSQL (the system of record) and the Elasticsearch sink."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from enrichment.config.declare import read_fields, setting


@dataclass(frozen=True)
class TagSettings:
    """Which tag store and sinks."""

    store: str = setting(
        "ENRICHMENT_TAG_STORE", "text", "postgres", "tag store (postgres is the only one)"
    )
    sinks: tuple[str, ...] = setting(
        "ENRICHMENT_TAG_SINKS",
        "list",
        (),
        "production tag stores mirroring every tag write (elasticsearch)",
    )

    @classmethod
    def from_env(cls) -> TagSettings:
        return cls(**read_fields(cls))


@dataclass(frozen=True)
class ElasticsearchSettings:
    """``ENRICHMENT_ES_*``: the Elasticsearch tag sink's connection and layout."""

    url: str | None = setting(
        "ENRICHMENT_ES_URL", "text", doc="Elasticsearch URL, e.g. http://localhost:9200"
    )
    api_key: str | None = setting(
        "ENRICHMENT_ES_API_KEY", "text", doc="API key (or username and password)", secret=True
    )
    username: str | None = setting("ENRICHMENT_ES_USERNAME", "text", doc="basic-auth user")
    password: str | None = setting(
        "ENRICHMENT_ES_PASSWORD", "text", doc="basic-auth password", secret=True
    )
    prefix: str = setting(
        "ENRICHMENT_ES_INDEX_PREFIX",
        "text",
        "catalog-tags",
        "read alias; concrete indexes are <prefix>-<taxonomy version>",
    )
    verify_certs: bool = setting(
        "ENRICHMENT_ES_VERIFY_CERTS", "flag", True, "verify the server's TLS certificate"
    )
    ca_certs: Path | None = setting(
        "ENRICHMENT_ES_CA_CERTS", "path", doc="CA bundle of the server's certificate"
    )
    timeout_seconds: float = setting(
        "ENRICHMENT_ES_TIMEOUT_SECONDS", "number", 30.0, "timeout of one request", above=0
    )
    max_retries: int = setting(
        "ENRICHMENT_ES_MAX_RETRIES",
        "int",
        3,
        "retries of a request or bulk item on 429/5xx and connection errors",
        low=0,
    )
    backoff_seconds: float = setting(
        "ENRICHMENT_ES_RETRY_BACKOFF_SECONDS",
        "number",
        0.5,
        "first wait between retries (doubles each time)",
        above=0,
    )

    @classmethod
    def from_env(cls) -> ElasticsearchSettings:
        return cls(**read_fields(cls))
