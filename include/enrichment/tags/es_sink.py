"""Elasticsearch tag sink: mirrors every tag-store write into a searchable index.

PostgreSQL stays the system of record (:mod:`enrichment.tags.store`); this sink keeps an
Elasticsearch copy that search and merchandising query. Layout: one concrete index per
taxonomy version, ``<prefix>-<taxonomy_version>``, created with an explicit mapping,
behind the read alias ``<prefix>``. Writes go to the index of the taxonomy version the
tags were made with; ``python -m enrichment es-index switch`` moves the alias once a new
version's index is complete (blue/green, see :mod:`enrichment.cli.es`).

Every write is a bulk request (``streaming_bulk``: chunks of 500 documents or ~5 MB) keyed
by SKU, so it is idempotent. The official client retries (docs/retries.md): connection
errors and timeouts by the transport, 429/5xx by the bulk helper with exponential backoff,
resending only the failed items. Items still failing after the retries, and non-retryable
item errors (400 mapping errors...), raise :class:`EsWriteError` naming the SKUs and the
Elasticsearch error type.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from enrichment.config import ConfigError
from enrichment.config.tags import ElasticsearchSettings
from enrichment.tags.documents import ProductDoc, TagDocument
from enrichment.tags.es_bulk import (
    BACKOFF_CAP_SECONDS,
    REQUEST_RETRY_STATUS,
    CountingNode,
    EsRequests,
    EsWriteError,
)

log = logging.getLogger(__name__)

_KW = {"type": "keyword"}
MAPPING = {
    "dynamic": "strict",
    "properties": {
        "sku": _KW,
        "title": {"type": "text"},
        "brand": _KW,
        "category": _KW,
        "price": {"type": "scaled_float", "scaling_factor": 100},
        "stock": {"type": "integer"},
        "active": {"type": "boolean"},
        "content_hash": _KW,
        "taxonomy_version": _KW,
        "model_id": _KW,
        "run_id": _KW,
        "updated_at": {"type": "date"},
        "tags": {
            "type": "nested",
            "properties": {
                "attribute": _KW,
                "value": _KW,
                "confidence": {"type": "float"},
                "sources": _KW,
            },
        },
    },
}
METADATA_FIELDS = ("title", "brand", "category", "price", "stock", "active")


@dataclass(frozen=True)
class EsConfig:
    """Connection and layout settings (``ENRICHMENT_ES_*``)."""

    url: str
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    prefix: str = "catalog-tags"
    verify_certs: bool = True
    ca_certs: str | None = None
    timeout_seconds: float = 30.0
    max_retries: int = 3
    backoff_seconds: float = 0.5

    @classmethod
    def from_env(cls) -> EsConfig:
        """The sink's configuration (:class:`ElasticsearchSettings`), checked."""
        es = ElasticsearchSettings.from_env()
        if not es.url:
            raise ConfigError(
                "ENRICHMENT_ES_URL is not set (e.g. http://localhost:9200); "
                "the elasticsearch tag sink needs it"
            )
        if es.api_key and es.username:
            raise ConfigError("set ENRICHMENT_ES_API_KEY or ENRICHMENT_ES_USERNAME, not both")
        if es.username and not es.password:
            raise ConfigError("ENRICHMENT_ES_USERNAME is set but ENRICHMENT_ES_PASSWORD is not")
        if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,200}", es.prefix):
            raise ConfigError(
                f"ENRICHMENT_ES_INDEX_PREFIX={es.prefix!r}: use lower-case letters, "
                "digits, '.', '_' and '-' (an Elasticsearch index name)"
            )
        return cls(
            url=es.url,
            api_key=es.api_key,
            username=es.username,
            password=es.password,
            prefix=es.prefix,
            verify_certs=es.verify_certs,
            ca_certs=str(es.ca_certs) if es.ca_certs else None,
            timeout_seconds=es.timeout_seconds,
            max_retries=es.max_retries,
            backoff_seconds=es.backoff_seconds,
        )


def index_name(prefix: str, taxonomy_version: str) -> str:
    """The concrete index of a taxonomy version."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", taxonomy_version.lower()).strip("-")
    if not slug:
        raise ValueError(f"taxonomy version {taxonomy_version!r} cannot name an index")
    return f"{prefix}-{slug}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def full_source(d: TagDocument) -> dict:
    """The Elasticsearch document of one SKU: product document plus its tags."""
    p = d.doc
    return {
        "sku": p.sku,
        "title": p.title,
        "brand": p.brand,
        "category": p.category,
        "price": p.price,
        "stock": p.stock,
        "active": p.active,
        "content_hash": d.content_hash or p.content_hash,
        "taxonomy_version": d.taxonomy_version,
        "model_id": d.model_id,
        "run_id": d.run_id,
        "updated_at": _now(),
        "tags": [
            {
                "attribute": t["attribute"],
                "value": t["value"],
                "confidence": float(t["confidence"]),
                "sources": list(t["sources"]),
            }
            for t in d.tags
        ],
    }


def metadata_source(p: ProductDoc) -> dict:
    """The partial document of a metadata-only change (tags untouched)."""
    out = {f: getattr(p, f) for f in METADATA_FIELDS} | {"updated_at": _now()}
    if p.content_hash is not None:
        out["content_hash"] = p.content_hash
    return out


class ElasticsearchTagSink:
    """Mirrors tag-store writes into ``<prefix>-<taxonomy_version>`` indexes."""

    name = "elasticsearch"

    def __init__(
        self, config: EsConfig, *, bulk_docs: int = 500, bulk_bytes: int = 5 * 1024 * 1024
    ):
        from elasticsearch import Elasticsearch

        self.config = config
        self.prefix = config.prefix
        kw: dict = {
            "request_timeout": config.timeout_seconds,
            "node_class": CountingNode,
            "max_retries": config.max_retries,
            "retry_on_status": REQUEST_RETRY_STATUS,
            "retry_on_timeout": True,
            "retry_backoff_base": config.backoff_seconds,
            "retry_backoff_cap": BACKOFF_CAP_SECONDS,
        }
        if config.url.startswith("https:"):
            kw["verify_certs"] = config.verify_certs
            if config.ca_certs:
                kw["ca_certs"] = config.ca_certs
        if config.api_key:
            kw["api_key"] = config.api_key
        elif config.username:
            kw["basic_auth"] = (config.username, config.password or "")
        self.client = Elasticsearch(config.url, **kw)
        self.es = EsRequests(
            self.client,
            config.url,
            max_retries=config.max_retries,
            backoff_seconds=config.backoff_seconds,
            bulk_docs=bulk_docs,
            bulk_bytes=bulk_bytes,
        )

    @classmethod
    def from_env(cls) -> ElasticsearchTagSink:
        return cls(EsConfig.from_env())

    @property
    def stats(self) -> Counter:
        """Documents written, retries, resent items, bulk requests (this process)."""
        return self.es.stats

    # -- layout ---------------------------------------------------------------------------
    def index_for(self, taxonomy_version: str) -> str:
        return index_name(self.prefix, taxonomy_version)

    def indexes(self) -> dict[str, dict]:
        """``{index: {"taxonomy_version", "aliased"}}`` of every version index of the prefix."""
        resp = self.es.request(
            "list indexes",
            lambda: self.client.indices.get(index=f"{self.prefix}-*", expand_wildcards="open"),
        )
        out = {}
        for name, body in sorted(resp.body.items()):
            meta = (body.get("mappings") or {}).get("_meta") or {}
            if meta.get("prefix") == self.prefix:  # not another prefix sharing the pattern
                out[name] = {
                    "taxonomy_version": meta.get("taxonomy_version"),
                    "aliased": self.prefix in (body.get("aliases") or {}),
                }
        return out

    def alias_indexes(self) -> list[str]:
        """Indexes behind the read alias (one, unless someone edited it by hand)."""
        resp = self.es.request(
            "read alias",
            lambda: self.client.options(ignore_status=404).indices.get_alias(name=self.prefix),
        )
        return sorted(k for k, v in resp.body.items() if isinstance(v, dict) and "aliases" in v)

    def ensure_index(self, taxonomy_version: str) -> str:
        """The version's index, created with the mapping if missing.

        The first index of a prefix also gets the read alias, so a new deployment is
        searchable after its first run; later versions wait for ``es-index switch``.
        """
        name = self.index_for(taxonomy_version)
        if self.es.request("check index", lambda: self.client.indices.exists(index=name)):
            return name
        mapping = {
            **MAPPING,
            "_meta": {"prefix": self.prefix, "taxonomy_version": taxonomy_version},
        }
        aliases = None if self.alias_indexes() else {self.prefix: {}}
        try:
            self.es.request(
                "create index",
                lambda: self.client.indices.create(index=name, mappings=mapping, aliases=aliases),
            )
            log.info(
                "created Elasticsearch index %s%s",
                name,
                f" behind alias {self.prefix}" if aliases else "",
            )
        except EsWriteError as exc:
            if exc.error_type != "resource_already_exists_exception":  # a parallel worker won
                raise
        return name

    # -- TagStore writes ------------------------------------------------------------------
    def replace_tags(self, docs: list[TagDocument]) -> int:
        """Index full documents into their taxonomy version's index; returns documents."""
        actions = []
        for version in sorted({d.taxonomy_version for d in docs}):
            if not version:
                raise ValueError("tag documents need a taxonomy_version (it names the index)")
            name = self.ensure_index(version)
            actions += [
                ({"index": {"_index": name, "_id": d.doc.sku}}, full_source(d))
                for d in docs
                if d.taxonomy_version == version
            ]
        results = self.es.bulk(actions)
        self.stats["docs_indexed"] += len(results)
        return len(results)

    def update_metadata(self, docs: list[ProductDoc]) -> int:
        """Partial updates of product fields in every version index; missing docs counted."""
        names = list(self.indexes()) if docs else []
        actions = [
            (
                {"update": {"_index": n, "_id": p.sku, "retry_on_conflict": 3}},
                {"doc": metadata_source(p)},
            )
            for n in names
            for p in docs
        ]
        results = self.es.bulk(actions)
        missing = sum(1 for r in results if r.get("status") == 404)
        self.stats["docs_updated"] += len(results) - missing
        self.stats["update_missing"] += missing
        return len(results) - missing

    def delete(self, skus: list[str]) -> int:
        """Delete ``skus`` from every version index (absent ones are fine)."""
        names = list(self.indexes()) if skus else []
        results = self.es.bulk(
            [({"delete": {"_index": n, "_id": s}}, None) for n in names for s in skus]
        )
        deleted = sum(1 for r in results if r.get("result") == "deleted")
        self.stats["docs_deleted"] += deleted
        return deleted

    # -- reads ----------------------------------------------------------------------------
    def count_skus(self, index: str | None = None) -> int:
        """Active documents behind the read alias (or in ``index``), after a refresh."""
        target = index or self.prefix
        if index is None and not self.alias_indexes():
            return 0
        self.es.request("refresh", lambda: self.client.indices.refresh(index=target))
        resp = self.es.request(
            "count", lambda: self.client.count(index=target, query={"term": {"active": True}})
        )
        return int(resp["count"])

    def get(self, sku: str, index: str | None = None) -> dict | None:
        """A document's source (real-time), or None."""
        resp = self.es.request(
            "get",
            lambda: self.client.options(ignore_status=404).get(index=index or self.prefix, id=sku),
        )
        return resp.body.get("_source") if resp.body.get("found") else None

    def close(self) -> None:
        self.client.close()
