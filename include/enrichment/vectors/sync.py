"""Bring product vectors of one index version up to date with their content.

The shard worker's embed step and the blue/green fill both call :func:`sync_text` and
:func:`sync_images`. For each product the target index's stored content hash is
compared with the product's (``text_hash`` / ``image_hash`` from change detection):

* same hash: nothing to do (``*_vectors_skipped_same_content``);
* another SKU in the index already has a vector for this hash (equal content, e.g.
  colour variants sharing a description): its vector is copied (``*_vectors_reused``);
* otherwise the content is embedded once per unique hash (``*_vectors_embedded``) and
  written for every SKU that has it (``*_vectors_upserted`` counts rows written).

The target is the index version of the *configured* model (blue/green policy): while
a re-embed is in progress that version is ``building`` and takes every change; the
active version keeps serving its previous vectors (the new model cannot produce
vectors for the old index) and still receives deletes and metadata updates, which go
to all versions. A configured model whose version was retired is a configuration
error, never a silent write into a version nobody queries.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from enrichment.cdc.detect import REPROCESS
from enrichment.config import ConfigError
from enrichment.vectors.records import VectorIndex, VectorRecord
from enrichment.vectors.store import PgVectorStore

log = logging.getLogger(__name__)

Item = Any  # a ChangeItem: sku, text_hash, image_hash, product, active
_ANNOUNCED: set[str] = set()  # building versions already logged by this process


def _chunks(seq: list, size: int) -> Iterator[list]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def target_index(store: PgVectorStore, embedder: Any) -> VectorIndex:
    """The index version of the configured embedder (created when missing)."""
    index = store.ensure_index(
        embedder.kind, embedder.model_id, embedder.prep_version, embedder.dim
    )
    if index.state == "retired":
        active = store.active_index(embedder.kind)
        setting = "ENRICHMENT_TEXT_MODEL" if embedder.kind == "text" else "ENRICHMENT_CLIP_MODEL"
        raise ConfigError(
            f"the configured {embedder.kind} model {embedder.model_id} writes to index "
            f"{index.name}, which was retired; the active one is "
            f"{active.name + ' (' + active.model_id + ')' if active else 'none'}. Set "
            f"{setting} to the active model, or switch back with `index switch --name "
            f"{index.name}`"
        )
    if index.state == "building" and index.name not in _ANNOUNCED:
        _ANNOUNCED.add(index.name)
        log.info(
            "%s index %s is building (re-embed in progress): changes go there; the "
            "active version keeps its previous vectors until the switch",
            embedder.kind,
            index.name,
        )
    return index


def sync_text(
    store: PgVectorStore,
    embedder: Any,
    items: list[Item],
    counts: Counter,
    meta: Callable[[Item], dict],
    *,
    batch: int = 256,
) -> VectorIndex | None:
    """Embed the changed text of ``items`` into the configured text index version."""
    if not items:
        return None
    index = target_index(store, embedder)
    tokens_before = _api_usage(embedder)

    def compute(reps: list[Item]) -> dict[str, np.ndarray]:
        vectors = embedder.embed([embedder.prepare(i.product or {}) for i in reps])
        return {i.text_hash: v for i, v in zip(reps, vectors, strict=True)}

    _sync(
        store,
        index,
        "text",
        [i for i in items if i.text_hash],
        lambda i: i.text_hash,
        compute,
        counts,
        meta,
        batch,
    )
    for key, value in _api_usage(embedder).items():
        counts[f"text_api_{key}"] += value - tokens_before.get(key, 0)
    return index


def sync_images(
    store: PgVectorStore,
    embedder: Any,
    items: list[Item],
    counts: Counter,
    meta: Callable[[Item], dict],
    load_images: Callable[[list[Item]], list],
    *,
    batch: int = 64,
) -> VectorIndex | None:
    """Embed the primary image of ``items`` into the configured image index version.

    ``load_images`` returns, per item, an object with ``.image`` (a PIL image), None (no
    image) or an exception (rejected image). A product without a usable image loses
    any image vector it had in this version (it would describe a photo no longer shown).
    """
    if not items:
        return None
    index = target_index(store, embedder)
    with_image = [i for i in items if (i.product or {}).get("images")]
    gone = [i.sku for i in items if not (i.product or {}).get("images")]

    def compute(reps: list[Item]) -> dict[str, np.ndarray]:
        loaded = load_images(reps)
        ok = [
            (i, img)
            for i, img in zip(reps, loaded, strict=True)
            if img is not None and hasattr(img, "image")
        ]
        counts["image_vectors_unavailable"] += len(reps) - len(ok)
        vectors = embedder.embed(
            [img.image for _, img in ok], keys=[getattr(img, "sha256", None) for _, img in ok]
        )
        return {i.image_hash: v for (i, _), v in zip(ok, vectors, strict=True)}

    missing = _sync(
        store, index, "image", with_image, lambda i: i.image_hash, compute, counts, meta, batch
    )
    counts["image_vectors_removed"] += store.delete_from(index, gone + missing)
    return index


def _sync(
    store: PgVectorStore,
    index: VectorIndex,
    prefix: str,
    items: list[Item],
    hash_of: Callable[[Item], str],
    compute: Callable[[list[Item]], dict],
    counts: Counter,
    meta: Callable[[Item], dict],
    batch: int,
) -> list[str]:
    """Skip, reuse or embed; returns the SKUs for which no vector could be produced.

    Forced items (change class ``reprocess``: a backfill with ``force``) are embedded
    again even when the index already holds a vector for their content.
    """
    have: dict[str, str] = {}
    for chunk in _chunks([i.sku for i in items], 5000):
        have.update(store.content_hashes(index, chunk))
    todo = [i for i in items if _forced(i) or have.get(i.sku) != hash_of(i)]
    counts[f"{prefix}_vectors_skipped_same_content"] += len(items) - len(todo)
    failed: list[str] = []
    for chunk in _chunks(todo, batch):
        groups: dict[str, list[Item]] = {}
        for item in chunk:
            groups.setdefault(hash_of(item), []).append(item)
        forced = {h for h, g in groups.items() if any(_forced(m) for m in g)}
        known = store.vectors_by_hash(index, [h for h in groups if h not in forced])
        fresh = compute([g[0] for h, g in groups.items() if h not in known])
        records = []
        for h, members in groups.items():
            vector = known.get(h)
            if vector is None:
                vector = fresh.get(h)
            if vector is None:
                failed += [m.sku for m in members]
                continue
            records += [VectorRecord(m.sku, vector, h, meta(m)) for m in members]
        counts[f"{prefix}_vectors_embedded"] += len(fresh)
        counts[f"{prefix}_vectors_reused"] += len(records) - len(fresh)
        counts[f"{prefix}_vectors_upserted"] += store.upsert(index, records)
    return failed


def _forced(item: Item) -> bool:
    return getattr(item, "change_class", None) == REPROCESS


def _api_usage(embedder: Any) -> dict[str, float]:
    usage = getattr(embedder, "usage", None)
    if usage is None:
        return {}
    return {
        "requests": usage["requests"],
        "retries": usage["retries"],
        "tokens": usage["tokens"],
        "cost_usd": embedder.cost_usd,
    }
