"""Fill an index version with every live product: the re-embed backfill of blue/green.

Runs the shard worker's own embed step (:mod:`enrichment.vectors.sync`) over the
catalogue in pages, so the fill and the incremental runs write identical vectors and a
repeated fill only embeds what is missing or changed (content-hash skip). Live = active
in the source AND in the platform's processed state: the set ``index switch`` verifies
(:mod:`enrichment.bluegreen.vector_versions`).
"""

from __future__ import annotations

import zlib
from collections import Counter

from enrichment.cdc import detect as changes
from enrichment.cdc import documents, source
from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect


def fill(
    settings: Settings | None = None,
    *,
    kinds: tuple[str, ...] | None = None,
    page: int = 1000,
    progress: bool = False,
    use_clip: bool | None = None,
    shard: int = 0,
    shards: int = 1,
) -> dict:
    """Embed every live product into the configured index version of each kind
    (and into the ``ENRICHMENT_TEXT_MODEL_NEXT`` / ``ENRICHMENT_CLIP_MODEL_NEXT`` version when a
    re-embed is running).

    Live = active in the source AND in the platform's processed state (the set
    ``switch`` verifies against). Products whose stored vector already has the current
    content hash are skipped. ``shard``/``shards`` split the work by a hash of the SKU
    so several workers (GPU pods) can fill in parallel. A single, unsharded fill builds
    the version's HNSW index at the end; otherwise ``switch`` does.
    """
    if not 0 <= shard < shards:
        raise ValueError(f"shard must be in 0..{shards - 1}, got {shard}")
    from enrichment.runs.worker import ShardWorker

    settings = settings or load_settings()
    kinds = kinds or settings.vector_kinds
    worker = ShardWorker(settings, use_clip=use_clip)
    counts: Counter = Counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(desc="fill", unit="product")
    _embed_live(worker, settings, kinds, counts, page=page, shard=shard, shards=shards, bar=bar)
    if bar is not None:
        bar.close()
    built = []
    for embedder in _embedders(worker, kinds):
        index = worker.vectors.ensure_index(
            embedder.kind, embedder.model_id, embedder.prep_version, embedder.dim
        )
        if shards == 1 and worker.vectors.build_hnsw(index):
            built.append(index.name)
    return {"counts": dict(sorted(counts.items())), "hnsw_built": built}


def _embed_live(worker, settings, kinds, counts: Counter, *, page, shard, shards, bar) -> None:
    """Embed this shard's live products, ``page`` at a time, into each kind's versions."""
    with connect(worker.url) as conn, source.source_connection(settings) as src:
        batch: list = []

        def flush() -> None:
            state = changes.load_state(conn, settings.state_schema, [s.sku for s in batch])
            # both vectors to check; unlike a forced backfill (``reprocess``) a vector the
            # version already holds for this content is kept, so a fill resumes cheaply
            items = [
                changes.to_item(s, changes.IMAGE_AND_TEXT_CHANGED)
                for s in batch
                if (state.get(s.sku) or {}).get("active")
            ]
            counts["products"] += len(items)
            if "text" in kinds:
                worker._embed_text(items, counts)
            if "image" in kinds:
                worker._embed_images(items, counts)
            if bar is not None:
                bar.update(len(batch))
            batch.clear()

        for snap in documents.scan_documents(src, source.mapping_for(settings)):
            if snap.active and zlib.crc32(snap.sku.encode()) % shards == shard:
                batch.append(snap)
            if len(batch) >= page:
                flush()
        flush()


def _embedders(worker, kinds) -> list:
    """The embedders whose index versions a fill writes (configured and next models)."""
    embedders = []
    for kind in kinds:
        if kind == "text":
            embedders += [e for e in (worker.embedder, worker.next_embedder) if e is not None]
        else:
            embedders.append(_image_embedder(worker))
            if worker.next_clip is not None:
                from enrichment.embeddings.embedders import ImageEmbedder

                embedders.append(ImageEmbedder(worker.next_clip))
    return embedders


def _image_embedder(worker):
    from enrichment.embeddings.embedders import ImageEmbedder

    return ImageEmbedder(worker.tagger.clip)
