"""Embedding models: the token budget, the OpenAI-compatible API, offline model loading."""

from __future__ import annotations

from dataclasses import dataclass

import enrichment.config.env as env
from enrichment.config.declare import read_fields, setting

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class ModelSettings:
    """How local models are loaded and how much text they see."""

    text_max_tokens: int | None = setting(
        "ENRICHMENT_TEXT_MAX_TOKENS",
        "int",
        doc="token budget of a product's text (unset: the model's maximum; openai: 512)",
        low=8,
    )
    hf_hub_offline: str | None = setting(
        "HF_HUB_OFFLINE",
        "text",
        doc="1: load models from local files only (read by Hugging Face libraries too)",
    )
    transformers_offline: str | None = setting(
        "TRANSFORMERS_OFFLINE",
        "text",
        doc="1: transformers loads local files only (read by transformers too)",
    )

    @classmethod
    def from_env(cls) -> ModelSettings:
        return cls(**read_fields(cls))

    @property
    def hub_offline(self) -> bool:
        """``HF_HUB_OFFLINE`` is on."""
        return (self.hf_hub_offline or "").lower() in env.TRUE

    @property
    def offline(self) -> bool:
        """Either offline switch is on."""
        return self.hub_offline or (self.transformers_offline or "").lower() in env.TRUE


@dataclass(frozen=True)
class OpenAISettings:
    """``ENRICHMENT_OPENAI_*``: the embeddings API of ``ENRICHMENT_TEXT_MODEL=openai:<model>``."""

    base_url: str = setting(
        "ENRICHMENT_OPENAI_BASE_URL",
        "text",
        DEFAULT_OPENAI_BASE_URL,
        "root of an OpenAI-compatible embeddings API",
    )
    api_key: str | None = setting(
        "ENRICHMENT_OPENAI_API_KEY",
        "text",
        doc="bearer token, required for the default base URL",
        secret=True,
    )
    fallback_api_key: str | None = setting(
        "OPENAI_API_KEY",
        "text",
        doc="bearer token used when ENRICHMENT_OPENAI_API_KEY is unset",
        secret=True,
    )
    dimensions: int | None = setting(
        "ENRICHMENT_OPENAI_DIMENSIONS",
        "int",
        doc="ask the API for shorter vectors (models that support it)",
        low=1,
    )
    batch_size: int = setting(
        "ENRICHMENT_OPENAI_BATCH_SIZE", "int", 256, "inputs per request", low=1
    )
    max_retries: int = setting(
        "ENRICHMENT_OPENAI_MAX_RETRIES",
        "int",
        3,
        "retries of a request (by the openai SDK) on 408/409/429, 5xx and network errors",
        low=0,
    )
    timeout_seconds: float = setting(
        "ENRICHMENT_OPENAI_TIMEOUT_SECONDS",
        "number",
        60.0,
        "timeout of one request attempt, seconds",
        above=0,
    )
    price_per_mtok: float | None = setting(
        "ENRICHMENT_OPENAI_PRICE_PER_MTOK",
        "number",
        doc="USD per million tokens for the cost counter (unset: list price of known models, else 0)",
        low=0,
    )

    @classmethod
    def from_env(cls) -> OpenAISettings:
        return cls(**read_fields(cls))

    @property
    def key(self) -> str | None:
        """The API key to send (``ENRICHMENT_OPENAI_API_KEY``, else ``OPENAI_API_KEY``)."""
        return self.api_key or self.fallback_api_key
