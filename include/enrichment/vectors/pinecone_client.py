"""The Pinecone connection of the vector sink: settings, index resolution, errors, ids.

:class:`PineconeConnection` owns the official SDK client. It reads the
``ENRICHMENT_PINECONE_*`` settings (failing with a ConfigError that names the one to
fix), resolves the Pinecone index of each vector kind and dimension (``*_HOST``
directly, else ``*_INDEX`` through the control plane's describe-index; either may
contain ``{dim}``), and learns its dimension from describe-index-stats.

Retries are the SDK's alone (docs/retries.md): every HTTP request is retried on 408,
429, 5xx and connection errors with jittered backoff, honouring Retry-After
(``ENRICHMENT_PINECONE_RETRIES``/``_RETRY_BACKOFF`` configure the control plane; the
REST data plane uses the SDK's fixed 3 retries). :meth:`PineconeConnection.call` only
turns what is left into errors that name our settings; a shard that still fails is
retried by the orchestrator, not here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from enrichment.config import ConfigError
from enrichment.config.vectors import PineconeSettings
from enrichment.vectors.records import SinkError

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
DATA_PLANE_ATTEMPTS = 4  # the SDK's REST data plane: 1 + its fixed 3 retries
MAX_ID_LENGTH = 512
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


def vector_id(sku: str) -> str:
    """The Pinecone id of a SKU: itself, or its percent-encoded UTF-8 when the SKU is
    not printable ASCII or contains ``%`` or a space (Pinecone ids are ASCII)."""
    if sku.isascii() and sku.isprintable() and "%" not in sku and " " not in sku:
        return sku
    return quote(sku, safe=_SAFE)


def sku_of(vid: str) -> str:
    """The SKU of a Pinecone id (inverse of :func:`vector_id`)."""
    return unquote(vid) if "%" in vid else vid


def metadata_value(value: Any) -> Any:
    """A value Pinecone accepts (str, number, bool, list of str), or None to drop it."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | Decimal | np.floating):
        return float(value)
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return str(value)


def pinecone_metadata(meta: dict, **extra: Any) -> dict:
    """``meta`` and ``extra`` as Pinecone metadata, None values dropped."""
    out = {}
    for key, value in {**meta, **extra}.items():
        value = metadata_value(value)
        if value is not None:
            out[key] = value
    return out


def transient(exc: BaseException) -> bool:
    """Whether an SDK error is one its retries gave up on (timeouts, 408, 429, 5xx)."""
    from pinecone import ApiError, PineconeConnectionError, PineconeTimeoutError

    if isinstance(exc, PineconeConnectionError | PineconeTimeoutError):
        return True
    return isinstance(exc, ApiError) and (exc.status_code in (408, 429) or exc.status_code >= 500)


def ignore_missing(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with a 404 (vector or namespace already gone) turned into None."""

    def call() -> Any:
        from pinecone import NotFoundError

        try:
            return fn()
        except NotFoundError:
            return None

    return call


def chunks(seq: list, size: int) -> Iterator[list]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


@dataclass
class Target:
    """One Pinecone index as resolved from the settings."""

    label: str  # what the settings named (host or index name), for messages
    setting: str  # the setting to fix when this index is wrong
    index: Any  # pinecone.Index (data plane)
    dim: int

    def require_dim(self, dim: int, what: str) -> None:
        if dim != self.dim:
            raise ConfigError(
                f"Pinecone index {self.label!r} ({self.setting}) has dimension {self.dim}, "
                f"but {what} {dim}: point {self.setting} at a Pinecone index of dimension {dim}"
            )


class PineconeConnection:
    """The SDK client, one :class:`Target` per vector kind, and retried calls."""

    def __init__(self) -> None:
        from pinecone import Pinecone, RetryConfig

        config = PineconeSettings.from_env()
        if not config.api_key:
            raise ConfigError(
                "ENRICHMENT_PINECONE_API_KEY is not set (ENRICHMENT_VECTOR_SINKS includes pinecone)"
            )
        self.batch_size = config.batch_size
        self.retries = config.retries
        self.backoff = config.retry_backoff
        self.concurrency = config.concurrency
        text = (config.host, config.index)
        if not any(text):
            raise ConfigError(
                "set ENRICHMENT_PINECONE_HOST (the index's data-plane host) or "
                "ENRICHMENT_PINECONE_INDEX (its name) for the pinecone vector sink"
            )
        image = (config.image_host, config.image_index)
        self._specs = {"text": (*text, "ENRICHMENT_PINECONE")}
        self._specs["image"] = (
            (*image, "ENRICHMENT_PINECONE_IMAGE") if any(image) else self._specs["text"]
        )
        self.client = Pinecone(
            api_key=config.api_key,
            host=config.controller_host,
            timeout=config.timeout,
            source_tag="catalog_enrichment",
            retry_config=RetryConfig(
                max_retries=self.retries, backoff_factor=self.backoff, max_wait=MAX_BACKOFF
            ),
        )
        self._targets: dict[tuple, Target] = {}
        self._lock = threading.Lock()

    def target(self, kind: str, dim: int) -> Target:
        """The Pinecone index for vectors of ``kind`` and ``dim`` (resolved once).

        A ``{dim}`` in the host or index setting is replaced by the dimension (e.g.
        ``products-{dim}``), so a model change to another dimension gets its own index.
        """
        host, name, prefix = (
            v.replace("{dim}", str(dim)) if v and "{dim}" in v else v for v in self._specs[kind]
        )
        with self._lock:
            if (host, name, prefix) not in self._targets:
                self._targets[host, name, prefix] = self._resolve(host, name, prefix)
            return self._targets[host, name, prefix]

    def templated(self, kind: str) -> bool:
        """Whether the kind's index setting depends on the dimension (``{dim}``)."""
        return any(v and "{dim}" in v for v in self._specs[kind][:2])

    def _resolve(self, host: str | None, name: str | None, prefix: str) -> Target:
        from pinecone import NotFoundError

        setting = f"{prefix}_HOST" if host else f"{prefix}_INDEX"
        label = host or name or ""
        try:
            if not host:
                desc = self.call(
                    f"describe index {name}", lambda: self.client.indexes.describe(name)
                )
                if not desc.host or not desc.status.ready:
                    raise ConfigError(
                        f"Pinecone index {name!r} ({setting}) is not ready yet "
                        f"(state {desc.status.state}); wait until it is Ready"
                    )
                host = desc.host
            index = self.client.index(host=host)
            stats = self.call("describe_index_stats", index.describe_index_stats)
        except NotFoundError as exc:
            raise ConfigError(
                f"no Pinecone index {label!r} ({setting}) in the project of "
                f"ENRICHMENT_PINECONE_API_KEY ({exc})"
            ) from exc
        if not stats.dimension:
            raise ConfigError(f"Pinecone index {label!r} ({setting}) reports no dense dimension")
        log.info("pinecone: index %s at %s, dimension %d", label, host, stats.dimension)
        return Target(label, setting, index, int(stats.dimension))

    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()`` (the SDK retries each request); clear errors once its retries are spent."""
        from pinecone import ForbiddenError, UnauthorizedError

        try:
            return fn()
        except (UnauthorizedError, ForbiddenError) as exc:
            raise ConfigError(
                f"Pinecone refused ENRICHMENT_PINECONE_API_KEY during {what} ({exc})"
            ) from exc
        except Exception as exc:
            if transient(exc):
                raise self.gave_up(what, exc) from exc
            raise

    @staticmethod
    def gave_up(what: str, exc: BaseException | str) -> SinkError:
        return SinkError(
            f"Pinecone {what} failed after {DATA_PLANE_ATTEMPTS} attempts ({exc}); pgvector "
            "is consistent: re-run once Pinecone answers (writes are idempotent), "
            "or check ENRICHMENT_PINECONE_HOST / ENRICHMENT_PINECONE_INDEX"
        )

    def map(self, calls: list[tuple[str, Callable[[], Any]]]) -> None:
        """Run single-item calls on up to ``concurrency`` threads; raise the first error
        once all have finished. Only for calls the SDK cannot batch (per-id updates)."""
        if len(calls) <= 1 or self.concurrency == 1:
            for what, fn in calls:
                self.call(what, fn)
            return
        with ThreadPoolExecutor(min(self.concurrency, len(calls))) as pool:
            futures = [pool.submit(self.call, what, fn) for what, fn in calls]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
