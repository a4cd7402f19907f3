"""The configured text embedder: an OpenAI-compatible API or a sentence-transformers model."""

from __future__ import annotations

from dataclasses import replace

from enrichment.embeddings.embedders import Embedder, TextEmbedder
from enrichment.embeddings.openai_api import OpenAIEmbedder


def text_embedder_from_settings(settings, *, next_model: bool = False) -> Embedder | None:
    """The configured text backend: ``openai:<model>`` or a sentence-transformers model.

    ``next_model``: the model of ``ENRICHMENT_TEXT_MODEL_NEXT`` (a re-embed in progress),
    or None when it is not set or names the serving model.
    """
    name = settings.text_model
    if next_model:
        name = getattr(settings, "text_model_next", None)
        if not name or name == settings.text_model:
            return None
    if name.startswith("openai:"):
        return OpenAIEmbedder.from_settings(replace(settings, text_model=name))
    return TextEmbedder(name)
