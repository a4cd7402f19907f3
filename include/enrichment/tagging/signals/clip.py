"""CLIP signal: zero-shot attribute scores, and image embeddings from the same model.

:class:`ClipModel` loads any CLIP-family checkpoint that transformers' ``AutoModel`` /
``AutoProcessor`` can read (a Hugging Face id or a directory written by
``save_pretrained``). Local directories, and every id when ``HF_HUB_OFFLINE`` or
``TRANSFORMERS_OFFLINE`` is set, load with ``local_files_only=True``. A model that
cannot be loaded is a :class:`~enrichment.config.ConfigError` naming
``ENRICHMENT_CLIP_MODEL``.

Prompt embeddings: for every attribute value, each template (``{label}`` = the
value's English label) plus its own prompts are embedded, L2-normalised, averaged and
normalised again. They are computed once per (model, taxonomy version) and cached in
memory and, when a cache directory is given, on disk. Images are embedded in batches;
:func:`zero_shot` turns cosine similarities into a softmax over the values that apply.
torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from enrichment.config import ConfigError
from enrichment.config.models import ModelSettings
from enrichment.tagging.taxonomy import Taxonomy

log = logging.getLogger(__name__)
DEFAULT_TEMPERATURE = 0.01  # CLIP's learned logit scale is 100
DEFAULT_BATCH_SIZE = 32
EMBEDDING_MEMORY_CACHE = 4096  # image embeddings kept in memory per process


@dataclass(frozen=True)
class PromptBank:
    """Normalised text embedding per (attribute, value), rows of ``matrix``."""

    taxonomy_version: str
    keys: tuple[tuple[str, str], ...]
    matrix: np.ndarray  # (len(keys), dim) float32, L2-normalised

    def rows(self, attribute: str) -> tuple[list[str], np.ndarray]:
        idx = [i for i, (a, _) in enumerate(self.keys) if a == attribute]
        return [self.keys[i][1] for i in idx], np.asarray(idx, dtype=np.int64)


def _offline() -> bool:
    return ModelSettings.from_env().offline


def _fingerprint(directory: Path) -> str:
    """Short hash of a local model directory: its config and the size of each weight file."""
    h = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        if path.name == "config.json":
            h.update(path.read_bytes())
        elif path.is_file():
            h.update(f"{path.name}:{path.stat().st_size};".encode())
    return h.hexdigest()[:10]


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _features(output: Any) -> Any:
    """transformers 5 returns a model output whose ``pooler_output`` is the projection."""
    if hasattr(output, "pooler_output") and output.pooler_output is not None:
        return output.pooler_output
    if hasattr(output, "image_embeds"):
        return output.image_embeds
    if hasattr(output, "text_embeds"):
        return output.text_embeds
    return output


class ClipModel:
    """A loaded CLIP-family model; ``model_id`` is what tags and vectors record."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        model_id: str,
        *,
        device: str = "cpu",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.model = model
        self.processor = processor
        self.model_id = model_id
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.prompt_computations = 0  # how often prompt embeddings were computed
        self.images_encoded = 0  # images actually run through the image tower
        self.embedding_cache: Any = None  # persistent store: get_many / put_many by sha256
        self._embeddings: OrderedDict[str, np.ndarray] = OrderedDict()
        self._banks: dict[str, PromptBank] = {}
        self._padding: str | bool = (
            "max_length" if "siglip" in str(getattr(model.config, "model_type", "")) else True
        )

    @classmethod
    def load(
        cls, ref: str, *, batch_size: int = DEFAULT_BATCH_SIZE, device: str | None = None
    ) -> ClipModel:
        """Load from a Hugging Face id or a local ``save_pretrained`` directory."""
        try:
            import torch
            from transformers import AutoModel, AutoProcessor
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                f"ENRICHMENT_CLIP_MODEL is set but torch/transformers are not installed: {exc}"
            ) from exc
        local = Path(ref).expanduser()
        is_dir = local.is_dir()
        source = str(local) if is_dir else ref
        offline = is_dir or _offline()
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        try:
            model = AutoModel.from_pretrained(source, local_files_only=offline, dtype=dtype)
            processor = AutoProcessor.from_pretrained(source, local_files_only=offline)
        except Exception as exc:
            where = (
                "local directory"
                if is_dir
                else "model id" + (" (offline: local cache only)" if offline else "")
            )
            raise ConfigError(
                f"ENRICHMENT_CLIP_MODEL={ref!r}: cannot load a CLIP model from this {where}: "
                f"{type(exc).__name__}: {str(exc)[:300]}. Set ENRICHMENT_CLIP_MODEL to a directory "
                "written by save_pretrained (or a Hugging Face id present in the local cache), "
                "or run without CLIP (unset it / --no-clip)."
            ) from exc
        if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
            raise ConfigError(
                f"ENRICHMENT_CLIP_MODEL={ref!r}: {type(model).__name__} is not a CLIP-family model (no image/text features)"
            )
        model.eval().to(device)
        model_id = f"{local.name}@{_fingerprint(local)}" if is_dir else ref
        log.info("CLIP model %s loaded on %s", model_id, device)
        return cls(model, processor, model_id, device=device, batch_size=batch_size)

    @property
    def dim(self) -> int:
        cfg = self.model.config
        return int(getattr(cfg, "projection_dim", None) or cfg.text_config.hidden_size)

    def _tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)

    def _image_processor(self) -> Any:
        return getattr(self.processor, "image_processor", self.processor)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 text embeddings, one row per text."""
        import torch

        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            enc = self._tokenizer()(
                batch, padding=self._padding, truncation=True, return_tensors="pt"
            )
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.inference_mode():
                feats = _features(self.model.get_text_features(**enc))
            out.append(feats.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.concatenate(out))

    def embed_images_keyed(
        self, images: list[Image.Image], keys: list[str | None], pixels: list | None = None
    ) -> np.ndarray:
        """Like :meth:`embed_images`, reusing embeddings cached by image-bytes hash.

        Looks in memory, then in :attr:`embedding_cache`; only the rest goes through the
        image tower, once per distinct key, and is stored back. ``pixels``: each image's
        tensor from :meth:`preprocess`, when a loader prepared them ahead.
        """
        found: dict[str, np.ndarray] = {
            k: self._embeddings[k] for k in keys if k is not None and k in self._embeddings
        }
        wanted = [k for k in dict.fromkeys(keys) if k is not None and k not in found]
        if wanted and self.embedding_cache is not None:
            found.update(self.embedding_cache.get_many(wanted))
        todo: dict[Any, int] = {}
        for n, (image, key) in enumerate(zip(images, keys, strict=True)):
            if key is None:
                todo[("object", id(image))] = n
            elif key not in found and key not in todo:
                todo[key] = n
        if todo:
            chosen = list(todo.values())
            if pixels is not None and all(pixels[n] is not None for n in chosen):
                computed = self.embed_pixels([pixels[n] for n in chosen])
            else:
                computed = self.embed_images([images[n] for n in chosen])
            fresh = dict(zip(todo, computed, strict=True))
            found.update(fresh)
            stored = {k: v for k, v in fresh.items() if isinstance(k, str)}
            if stored and self.embedding_cache is not None:
                self.embedding_cache.put_many(stored)
        for key in keys:
            if key is not None:
                self._embeddings[key] = found[key]
                self._embeddings.move_to_end(key)
        while len(self._embeddings) > EMBEDDING_MEMORY_CACHE:
            self._embeddings.popitem(last=False)
        rows = [
            found[k] if k is not None else found[("object", id(im))]
            for im, k in zip(images, keys, strict=True)
        ]
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def preprocess(self, images: list[Image.Image]) -> list:
        """The model's input tensor per image (resize, crop, normalise); thread-safe, so a
        loader can prepare the next batch while the model runs this one."""
        if not images:
            return []
        batch = [im.convert("RGB") for im in images]
        return list(self._image_processor()(images=batch, return_tensors="pt")["pixel_values"])

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """L2-normalised float32 image embeddings, one row per image, in batches."""
        out = []
        for start in range(0, len(images), self.batch_size):
            out.append(self.embed_pixels(self.preprocess(images[start : start + self.batch_size])))
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(out)

    def embed_pixels(self, pixels: list) -> np.ndarray:
        """Embeddings of tensors from :meth:`preprocess` (the image tower only), in batches."""
        import torch

        self.images_encoded += len(pixels)
        out = []
        dtype = next(self.model.parameters()).dtype
        for start in range(0, len(pixels), self.batch_size):
            batch = torch.stack(pixels[start : start + self.batch_size])
            with torch.inference_mode():
                feats = _features(
                    self.model.get_image_features(pixel_values=batch.to(self.device, dtype))
                )
            out.append(feats.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(np.concatenate(out))

    def prompt_bank(self, taxonomy: Taxonomy, cache_dir: Path | None = None) -> PromptBank:
        """Prompt embeddings for ``taxonomy``, computed once per (model, taxonomy version)."""
        bank = self._banks.get(taxonomy.version)
        if bank is not None:
            return bank
        cache_file = None
        if cache_dir is not None:
            key = hashlib.sha256(self.model_id.encode()).hexdigest()[:12]
            cache_file = Path(cache_dir) / f"clip-prompts-{key}-{taxonomy.version}.npz"
            if cache_file.exists():
                try:
                    with np.load(cache_file, allow_pickle=False) as data:
                        keys = tuple((str(a), str(v)) for a, v in data["keys"])
                        bank = PromptBank(taxonomy.version, keys, data["matrix"].astype(np.float32))
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("ignoring unreadable prompt cache %s: %s", cache_file.name, exc)
        if bank is None:
            bank = self._compute_bank(taxonomy)
            if cache_file is not None:
                cache_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = cache_file.with_name(cache_file.stem + f".{os.getpid()}.tmp.npz")
                np.savez(tmp, keys=np.array(bank.keys), matrix=bank.matrix)
                os.replace(tmp, cache_file)
        self._banks[taxonomy.version] = bank
        return bank

    def _compute_bank(self, taxonomy: Taxonomy) -> PromptBank:
        self.prompt_computations += 1
        keys, prompts, owner = [], [], []
        for attr in taxonomy.attributes:
            for val in attr.values:
                texts = [t.format(label=val.label_en) for t in attr.templates] + list(val.prompts)
                keys.append((attr.id, val.id))
                prompts.extend(texts)
                owner.extend([len(keys) - 1] * len(texts))
        emb = self.embed_texts(prompts)
        owner_arr = np.asarray(owner)
        matrix = np.stack([emb[owner_arr == i].mean(0) for i in range(len(keys))])
        return PromptBank(taxonomy.version, tuple(keys), _normalise(matrix))

    def similarities(
        self,
        images: list[Image.Image],
        taxonomy: Taxonomy,
        cache_dir: Path | None = None,
        keys: list[str | None] | None = None,
        pixels: list | None = None,
    ) -> np.ndarray:
        """Cosine similarity of each image to each prompt-bank row, shape (N, values).

        ``keys`` (image-bytes hashes) let embeddings come from the caches; ``pixels``
        are the images' tensors from :meth:`preprocess`, when prepared ahead.
        """
        bank = self.prompt_bank(taxonomy, cache_dir)
        if keys is None:
            keys = [None] * len(images)
        return self.embed_images_keyed(images, keys, pixels) @ bank.matrix.T


def zero_shot(
    sims: np.ndarray,
    bank: PromptBank,
    attribute: str,
    allowed: set[str] | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
) -> dict[str, float]:
    """Softmax over one attribute's (allowed) values from one image's similarity row."""
    values, idx = bank.rows(attribute)
    keep = [i for i, v in enumerate(values) if allowed is None or v in allowed]
    if not keep:
        return {}
    logits = sims[idx[keep]].astype(np.float64) / max(temperature, 1e-6)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return {values[i]: float(p) for i, p in zip(keep, probs, strict=True)}
