"""Text embeddings from an OpenAI-compatible ``POST /embeddings`` HTTP API.

Selected with ``ENRICHMENT_TEXT_MODEL=openai:<model>``; its settings are
:class:`enrichment.config.models.OpenAISettings` (``ENRICHMENT_OPENAI_*``, listed in
docs/configuration.md).

Requests go through the official ``openai`` SDK (``OpenAI(base_url=...)``), which does the
retries: exponential backoff from 0.5 s capped at 8 s, jittered, ``Retry-After``/
``retry-after-ms`` honoured (policy: docs/retries.md). Requests carry unique texts only;
rows come back in input order whatever order the server answers in, and are
L2-normalised. ``usage`` counts requests, retries (the SDK's ``retries_taken``), tokens
(as reported by the server) and the estimated cost.
Text is truncated with :func:`enrichment.embeddings.embedders.approx_tokens` (no local tokenizer).
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from enrichment.config import ConfigError
from enrichment.config.models import DEFAULT_OPENAI_BASE_URL, OpenAISettings
from enrichment.embeddings.embedders import (
    PREP_VERSION,
    approx_tokens,
    max_tokens_setting,
    prepare_text,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = DEFAULT_OPENAI_BASE_URL
KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
LIST_PRICE_PER_MTOK = {
    "text-embedding-3-small": 0.02,
    "text-embedding-3-large": 0.13,
    "text-embedding-ada-002": 0.10,
}
MAX_REQUEST_TOKENS = 250_000  # the API allows 300k tokens per request; stay below
RETRY_STATUS = {408, 409, 429}


class EmbeddingAPIError(RuntimeError):
    """The embeddings API refused a request or kept failing after the retries."""


class OpenAIEmbedder:
    """Batched client of an OpenAI-compatible embeddings endpoint (the ``openai`` SDK)."""

    kind = "text"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 256,
        max_retries: int = 3,
        timeout_seconds: float = 60.0,
        price_per_mtok: float | None = None,
        max_tokens: int = 512,
    ):
        from openai import OpenAI

        if not model:
            raise ConfigError("ENRICHMENT_TEXT_MODEL=openai:<model> needs a model name")
        if not api_key and base_url.rstrip("/") == DEFAULT_BASE_URL:
            raise ConfigError(
                "ENRICHMENT_OPENAI_API_KEY is not set (needed for "
                f"ENRICHMENT_TEXT_MODEL=openai:{model} at {DEFAULT_BASE_URL})"
            )
        self.model = model
        self.url = base_url.rstrip("/") + "/embeddings"
        self.dimensions = dimensions
        self.batch_size = max(1, batch_size)
        self.max_retries = max_retries
        self.price = (
            LIST_PRICE_PER_MTOK.get(model, 0.0) if price_per_mtok is None else price_per_mtok
        )
        self.max_tokens = max_tokens
        self.prep_version = f"{PREP_VERSION}.a{max_tokens}"
        self.model_id = f"openai:{model}" + (f"@{dimensions}" if dimensions else "")
        self.usage: Counter = Counter()
        # a gateway without authentication still gets a (meaningless) bearer token: the
        # SDK insists on one
        self._client = OpenAI(
            base_url=base_url.rstrip("/"),
            api_key=api_key or "unused",
            max_retries=max_retries,
            timeout=timeout_seconds,
        )
        self._dim = dimensions or KNOWN_DIMS.get(model)

    @classmethod
    def from_settings(cls, settings, **kw) -> OpenAIEmbedder:
        model = settings.text_model.removeprefix("openai:")
        api = OpenAISettings.from_env()
        return cls(
            model,
            base_url=api.base_url,
            api_key=api.key,
            dimensions=api.dimensions,
            batch_size=api.batch_size,
            max_retries=api.max_retries,
            timeout_seconds=api.timeout_seconds,
            price_per_mtok=api.price_per_mtok,
            max_tokens=max_tokens_setting() or 512,
            **kw,
        )

    @property
    def dim(self) -> int:
        """Vector length; unknown models are asked once with a two-token probe."""
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    @property
    def cost_usd(self) -> float:
        return self.usage["tokens"] * self.price / 1e6

    def prepare(self, product: dict) -> str:
        return prepare_text(product, max_tokens=self.max_tokens)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text; equal texts are sent once."""
        unique = list(dict.fromkeys(texts))
        rows: dict[str, np.ndarray] = {}
        batch: list[str] = []
        budget = 0
        for text in unique:
            cost = approx_tokens(text) + 1
            if batch and (len(batch) >= self.batch_size or budget + cost > MAX_REQUEST_TOKENS):
                rows.update(zip(batch, self._request(batch), strict=True))
                batch, budget = [], 0
            batch.append(text)
            budget += cost
        if batch:
            rows.update(zip(batch, self._request(batch), strict=True))
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.stack([rows[t] for t in texts])

    # -- one request (the SDK retries it) -----------------------------------------------
    def _request(self, texts: list[str]) -> np.ndarray:
        import openai

        extra = {"dimensions": self.dimensions} if self.dimensions else {}
        try:
            raw = self._client.embeddings.with_raw_response.create(
                model=self.model,
                encoding_format="float",
                # the API rejects empty strings; a space embeds "no text"
                input=[t if t.strip() else " " for t in texts],
                **extra,
            )
        except openai.APIStatusError as exc:
            raise self._refused(exc) from exc
        except openai.APIConnectionError as exc:  # includes timeouts
            self.usage["requests"] += self.max_retries + 1
            self.usage["retries"] += self.max_retries
            raise EmbeddingAPIError(
                f"embeddings API at {self.url} still failing after {self.max_retries} "
                f"retries: {type(exc).__name__}: {exc}"
            ) from exc
        self.usage["requests"] += raw.retries_taken + 1
        self.usage["retries"] += raw.retries_taken
        return self._parse(raw, len(texts))

    def _refused(self, exc) -> Exception:
        problem = f"HTTP {exc.status_code}: {str(exc.message)[:300]}"
        self.usage[f"status_{exc.status_code}"] += 1
        if exc.status_code in (401, 403):
            return ConfigError(
                f"embeddings API at {self.url} refused the credentials "
                f"({problem}); check ENRICHMENT_OPENAI_API_KEY"
            )
        if exc.status_code == 404:
            return ConfigError(
                f"embeddings API at {self.url}: {problem}; check "
                "ENRICHMENT_OPENAI_BASE_URL and ENRICHMENT_TEXT_MODEL"
            )
        if exc.status_code < 500 and exc.status_code not in RETRY_STATUS:
            return EmbeddingAPIError(f"embeddings API rejected the request: {problem}")
        self.usage["requests"] += self.max_retries + 1
        self.usage["retries"] += self.max_retries
        return EmbeddingAPIError(
            f"embeddings API still failing after {self.max_retries} retries: {problem}"
        )

    def _parse(self, raw, n: int) -> np.ndarray:
        try:
            payload = raw.parse()
            data = sorted(payload.data, key=lambda d: d.index)
            matrix = np.asarray([d.embedding for d in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EmbeddingAPIError(
                f"embeddings API answered with an unexpected body: {raw.text[:200]}"
            ) from exc
        if matrix.ndim != 2 or matrix.shape[0] != n or not np.isfinite(matrix).all():
            raise EmbeddingAPIError(f"embeddings API returned {matrix.shape} for {n} inputs")
        if self._dim is not None and matrix.shape[1] != self._dim:
            raise EmbeddingAPIError(
                f"embeddings API returned {matrix.shape[1]}-d vectors, "
                f"expected {self._dim} (ENRICHMENT_OPENAI_DIMENSIONS?)"
            )
        usage = payload.usage
        self.usage["tokens"] += int((usage and (usage.total_tokens or usage.prompt_tokens)) or 0)
        self.usage["inputs"] += n
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.maximum(norms, 1e-12)
