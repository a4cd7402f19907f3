"""Elasticsearch requests with retries, and bulk writes that resend only failed items.

``EsRequests`` wraps an ``elasticsearch.Elasticsearch`` client whose own retries are
off: a request failing with 429/5xx or a connection error is retried here with
exponential backoff (``max_retries``, base ``backoff_seconds``, capped, jittered), and a
bulk response with per-item 429/5xx/409 failures resends only those items. Anything
else (a 400 mapping error, an item still failing after the retries) raises
:class:`EsWriteError` naming the documents and the Elasticsearch error type. ``stats``
counts bulk requests, retries and resent items.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from enrichment.config import ConfigError

log = logging.getLogger(__name__)

RETRYABLE = frozenset({409, 429, 500, 502, 503, 504})
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


def _error_type(res: dict) -> tuple[str, str]:
    error = res.get("error") or {}
    if isinstance(error, dict):
        return error.get("type", ""), error.get("reason", "")
    return str(error), ""


class EsRequests:
    """Retrying requests and chunked bulk writes through one client."""

    def __init__(
        self,
        client: Any,
        url: str,
        *,
        max_retries: int = 5,
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

    def _sleep(self, attempt: int) -> None:
        delay = min(BACKOFF_CAP_SECONDS, self.backoff_seconds * 2 ** (attempt - 1))
        time.sleep(delay * (0.5 + random.random() / 2))

    def request(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()``, retried on 429/5xx and connection errors; clear errors otherwise."""
        from elasticsearch import ApiError, ConnectionError, ConnectionTimeout

        attempt = 0
        while True:
            try:
                return call()
            except ApiError as exc:
                status = exc.status_code
                if status in (401, 403):
                    raise ConfigError(
                        f"Elasticsearch refused {what} ({status} {exc.message}): check "
                        "ENRICHMENT_ES_API_KEY or ENRICHMENT_ES_USERNAME/ENRICHMENT_ES_PASSWORD"
                    ) from exc
                if status not in RETRYABLE or attempt >= self.max_retries:
                    after = f" after {attempt} retries" if attempt else ""
                    raise EsWriteError(
                        f"Elasticsearch {what} failed{after}: {status} {exc.message}",
                        status=status,
                        error_type=str(exc.message),
                    ) from exc
                reason = f"{status} {exc.message}"
            except (ConnectionError, ConnectionTimeout) as exc:
                if attempt >= self.max_retries:
                    raise EsWriteError(
                        f"Elasticsearch at ENRICHMENT_ES_URL={self.url} is unreachable ({what}, "
                        f"{attempt + 1} attempts): {type(exc).__name__}: {exc}"
                    ) from exc
                reason = type(exc).__name__
            attempt += 1
            self.stats["retries"] += 1
            log.warning(
                "Elasticsearch %s: %s; retry %d of %d", what, reason, attempt, self.max_retries
            )
            self._sleep(attempt)

    def chunks(self, actions: list[Action]) -> Iterator[list[Action]]:
        """Chunks of at most ``bulk_docs`` actions and about ``bulk_bytes`` of NDJSON."""
        chunk: list[Action] = []
        size = 0
        for action in actions:
            n = sum(len(json.dumps(part).encode()) + 1 for part in action if part is not None)
            if chunk and (len(chunk) >= self.bulk_docs or size + n > self.bulk_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(action)
            size += n
        if chunk:
            yield chunk

    def bulk(self, actions: list[Action]) -> list[dict]:
        """Run ``(action, body)`` pairs in chunks; one item result per action, in order."""
        return [res for chunk in self.chunks(actions) for res in self._bulk_chunk(chunk)]

    def _bulk_chunk(self, chunk: list[Action]) -> list[dict]:
        done: dict[int, dict] = {}
        pending = list(range(len(chunk)))
        attempt = 0
        while True:
            ops = [part for i in pending for part in chunk[i] if part is not None]
            resp = self.request("bulk", lambda ops=ops: self.client.bulk(operations=ops))
            self.stats["bulk_requests"] += 1
            items = resp["items"]
            if len(items) != len(pending):
                raise EsWriteError(
                    f"Elasticsearch bulk answered {len(items)} items for {len(pending)} actions"
                )
            retry, fatal = [], []
            for i, item in zip(pending, items, strict=True):
                op, res = next(iter(item.items()))
                done[i] = res
                status = res.get("status", 0)
                if status in RETRYABLE:
                    retry.append(i)
                elif status >= 300 and not (
                    status == 404
                    and op in ("delete", "update")
                    and _error_type(res)[0] in _MISSING_OK
                ):
                    fatal.append(i)
            if fatal:
                raise self._failed(chunk, done, fatal, "")
            if not retry:
                return [done[i] for i in range(len(chunk))]
            if attempt >= self.max_retries:
                raise self._failed(chunk, done, retry, f" after {attempt} retries")
            attempt += 1
            self.stats["retries"] += 1
            self.stats["items_resent"] += len(retry)
            log.warning(
                "Elasticsearch bulk: %d of %d items rejected (%s); resending them, retry %d of %d",
                len(retry),
                len(pending),
                _error_type(done[retry[0]])[0],
                attempt,
                self.max_retries,
            )
            pending = retry
            self._sleep(attempt)

    @staticmethod
    def _failed(
        chunk: list[Action], done: dict[int, dict], failed: list[int], suffix: str
    ) -> EsWriteError:
        failures = {}
        for i in failed:
            res = done[i]
            kind, reason = _error_type(res)
            doc_id = res.get("_id") or next(iter(chunk[i][0].values())).get("_id")
            failures[str(doc_id)] = f"{res.get('status')} {kind or '?'}" + (
                f" ({reason})" if reason else ""
            )
        shown = "; ".join(f"{sku}: {why}" for sku, why in list(failures.items())[:10])
        more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
        indexes = sorted({str(done[i].get("_index", "?")) for i in failed})
        return EsWriteError(
            f"Elasticsearch rejected {len(failures)} document(s) in "
            f"{', '.join(indexes)}{suffix}: {shown}{more}",
            failures,
        )
