"""Elasticsearch bulk writes through ``elasticsearch.helpers.streaming_bulk``, clear errors.

Retries are the official client's (policy: docs/retries.md). The transport retries
connection errors and timeouts (jittered backoff) and, for single requests, 429/502/503/504.
Bulk writes go through ``streaming_bulk`` (chunks by documents and bytes) with the
transport's status retries off for them: a request-level or per-item 429/5xx/409 is
retried by the helper with exponential backoff, resending only the failed items. What is
left afterwards raises :class:`EsWriteError` naming the documents and the error type.

What stays here: translating client errors into messages that name our settings (and
never a credential), and counting retries and resent items for the shard results, which
the client does not report (:class:`CountingNode` sees every HTTP attempt).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from elastic_transport import ConnectionError, ConnectionTimeout, Urllib3HttpNode

from enrichment.config import ConfigError

log = logging.getLogger(__name__)

REQUEST_RETRY_STATUS = (429, 502, 503, 504)  # single requests, by the transport
BULK_RETRY_STATUS = (409, 429, 500, 502, 503, 504)  # bulk items, by streaming_bulk
BACKOFF_CAP_SECONDS = 30.0
# 404 item results that mean "nothing to do" rather than a failure
_MISSING_OK = ("", "document_missing_exception", "index_not_found_exception")

Action = tuple[dict, dict | None]  # (action line, body line or None for deletes)


class EsWriteError(RuntimeError):
    """Elasticsearch refused a request or documents.

    ``status``/``error_type``: of a refused request; ``failures``: document id to status
    and error type, for documents a bulk request could not write.
    """

    def __init__(
        self,
        message: str,
        failures: dict[str, str] | None = None,
        *,
        status: int | None = None,
        error_type: str | None = None,
    ):
        super().__init__(message)
        self.failures = failures or {}
        self.status = status
        self.error_type = error_type


class CountingNode(Urllib3HttpNode):
    """The client's own HTTP node; counts attempts answered with a retryable error.

    ``stats`` is set by :class:`EsRequests` on the nodes of its client.
    """

    stats: Counter

    def perform_request(self, method: str, target: str, *args: Any, **kwargs: Any):  # noqa: D102
        stats = getattr(self, "stats", None)
        if stats is None:
            stats = self.stats = Counter()
        try:
            resp = super().perform_request(method, target, *args, **kwargs)
        except (ConnectionError, ConnectionTimeout):
            stats["retries"] += 1
            raise
        status = resp.meta.status
        if target.split("?")[0].endswith("/_bulk"):
            stats["bulk_requests"] += 1
            retryable = status in BULK_RETRY_STATUS
            if status == 200:
                items = json.loads(resp.body).get("items") or []
                resent = sum(
                    1 for it in items if next(iter(it.values())).get("status") in BULK_RETRY_STATUS
                )
                stats["items_resent"] += resent
                retryable = resent > 0
            stats["retries"] += retryable
        elif status in REQUEST_RETRY_STATUS:
            stats["retries"] += 1
        return resp


def _error_type(res: dict) -> tuple[str, str]:
    error = res.get("error") or {}
    if isinstance(error, dict):
        return error.get("type", ""), error.get("reason", "")
    exc = res.get("exception")
    return str(getattr(exc, "message", "") or error), ""


class EsRequests:
    """Requests with clear errors, and bulk writes through ``streaming_bulk``."""

    def __init__(
        self,
        client: Any,
        url: str,
        *,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        bulk_docs: int = 500,
        bulk_bytes: int = 5 * 1024 * 1024,
    ):
        self.client = client
        self.url = re.sub(r"//[^/@]*@", "//***@", url)  # no credentials in messages
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.bulk_docs, self.bulk_bytes = bulk_docs, bulk_bytes
        self.stats: Counter = Counter()
        for node in client.transport.node_pool.all():
            node.stats = self.stats

    def request(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()`` (the transport retries it); clear errors naming our settings."""
        from elasticsearch import ApiError

        try:
            return call()
        except ApiError as exc:
            status = exc.status_code
            self._refused(what, status, str(exc.message))
            after = self._after(status in REQUEST_RETRY_STATUS)
            raise EsWriteError(
                f"Elasticsearch {what} failed{after}: {status} {exc.message}",
                status=status,
                error_type=str(exc.message),
            ) from exc
        except (ConnectionError, ConnectionTimeout) as exc:
            raise self._unreachable(what, exc) from exc

    def _after(self, retried: bool) -> str:
        return f" after {self.max_retries} retries" if retried and self.max_retries else ""

    @staticmethod
    def _refused(what: str, status: int, message: str) -> None:
        if status in (401, 403):
            raise ConfigError(
                f"Elasticsearch refused {what} ({status} {message}): check "
                "ENRICHMENT_ES_API_KEY or ENRICHMENT_ES_USERNAME/ENRICHMENT_ES_PASSWORD"
            )

    def _unreachable(self, what: str, exc: Exception) -> EsWriteError:
        return EsWriteError(
            f"Elasticsearch at ENRICHMENT_ES_URL={self.url} is unreachable ({what}, "
            f"{self.max_retries + 1} attempts): {type(exc).__name__}: {exc}"
        )

    def bulk(self, actions: list[Action]) -> list[dict]:
        """Run ``(action, body)`` pairs; one item result per action (retried ones last)."""
        from elasticsearch.helpers import streaming_bulk

        results: list[dict] = []
        failed: list[dict] = []
        stream = streaming_bulk(
            self.client.options(retry_on_status=()),  # statuses are retried per item below
            actions,
            chunk_size=self.bulk_docs,
            max_chunk_bytes=self.bulk_bytes,
            expand_action_callback=lambda action: action,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=self.max_retries,
            initial_backoff=self.backoff_seconds,
            max_backoff=BACKOFF_CAP_SECONDS,
            retry_on_status=BULK_RETRY_STATUS,
        )
        try:
            for ok, item in stream:
                op, res = next(iter(item.items()))
                results.append(res)
                if not ok and not _missing_ok(op, res):
                    failed.append(res)
        except (ConnectionError, ConnectionTimeout) as exc:
            raise self._unreachable("bulk", exc) from exc
        if failed:
            raise self._failed(failed)
        return results

    def _failed(self, failed: list[dict]) -> Exception:
        for res in failed:
            self._refused("bulk", res.get("status", 0), _error_type(res)[0])
        retried = any(res.get("status") in BULK_RETRY_STATUS for res in failed)
        failures = {}
        for res in failed:
            kind, reason = _error_type(res)
            failures[str(res.get("_id"))] = f"{res.get('status')} {kind or '?'}" + (
                f" ({reason})" if reason else ""
            )
        shown = "; ".join(f"{sku}: {why}" for sku, why in list(failures.items())[:10])
        more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
        indexes = sorted({str(res.get("_index", "?")) for res in failed})
        return EsWriteError(
            f"Elasticsearch rejected {len(failures)} document(s) in "
            f"{', '.join(indexes)}{self._after(retried)}: {shown}{more}",
            failures,
        )


def _missing_ok(op: str, res: dict) -> bool:
    return (
        res.get("status") == 404
        and op in ("delete", "update")
        and _error_type(res)[0] in _MISSING_OK
    )
