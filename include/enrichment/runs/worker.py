"""The shard worker: everything heavy for one shard of a run's change set.

``python -m enrichment process-shard --run-id R --shard N`` reads the shard's manifest,
deletes what was deleted, refreshes metadata-only changes without models, tags changed
content (quarantining bad images), embeds changed text (and images when configured),
and writes the shard's result file. Locally an Airflow task calls it in-process; in
production a GPU pod runs the same command. Every write is an idempotent upsert.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from enrichment.cdc.detect import DELETED, METADATA_ONLY, ChangeItem
from enrichment.config import Settings, load_settings
from enrichment.config.env import with_prefix
from enrichment.db.connection import database_url
from enrichment.images import quarantine
from enrichment.runs.shard_store import ShardStore
from enrichment.tags.documents import ProductDoc, TagDocument
from enrichment.tags.factory import tag_store_from_settings
from enrichment.vectors.factory import vector_store_from_settings

log = logging.getLogger(__name__)

TAG_BATCH = 64
FETCH_THREADS = 8


def _doc(item: ChangeItem, content_hash: str | None = None) -> ProductDoc:
    p = item.product or {}
    return ProductDoc(
        sku=item.sku,
        title=p.get("title"),
        brand=p.get("brand"),
        category=p.get("category"),
        price=p.get("price"),
        stock=p.get("stock"),
        active=item.active,
        content_hash=content_hash,
    )


def _vector_meta(item: ChangeItem) -> dict:
    p = item.product or {}
    return {
        "category": p.get("category"),
        "brand": p.get("brand"),
        "price": p.get("price"),
        "active": item.active,
    }


def _image_ref(item: ChangeItem) -> str:
    return ((item.product or {}).get("images") or [""])[0] or ""


def _job(item: ChangeItem):
    from enrichment.tagging.pipeline import ImageJob

    p = item.product or {}
    return ImageJob(
        item.sku,
        _image_ref(item),
        p.get("title") or "",
        p.get("description") or "",
        p.get("category"),
    )


def _quarantined(item: ChangeItem, tagged) -> quarantine.QuarantineRecord | None:
    """The quarantine record for an item whose photo was rejected or broke the engine, or
    that went over its time budget."""
    if tagged.over_budget:
        return quarantine.QuarantineRecord(
            item.sku, _image_ref(item), "time_budget", tagged.over_budget, tagged.image_hash
        )
    if tagged.rejection is not None:
        r = tagged.rejection
        return quarantine.QuarantineRecord(
            item.sku, _image_ref(item), r.reason, r.detail, r.content_hash
        )
    if tagged.tagging_error:
        return quarantine.QuarantineRecord(
            item.sku, _image_ref(item), "tagging_error", tagged.tagging_error, tagged.image_hash
        )
    return None


def _chunks(seq: list, size: int):
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


class ShardWorker:
    """Processes shards with models loaded once (reuse it for several shards)."""

    def __init__(self, settings: Settings | None = None, *, use_clip: bool | None = None):
        self.settings = settings or load_settings()
        self.url = database_url(self.settings)
        self.schema = self.settings.state_schema
        self.shards = ShardStore.from_settings(self.settings)
        self.tags = tag_store_from_settings(self.settings, self.url)
        self.vectors = vector_store_from_settings(self.settings, self.url)
        self._use_clip = use_clip
        self._tagger = None
        self._embedder = None
        self._next_embedder: object = False  # False: not looked up yet
        self._next_clip: object = False
        self._pool = None  # tagging worker processes, started by the first large shard
        self.models_loaded: Counter = Counter()  # what this worker loaded, for small days

    @property
    def tagger(self):
        if self._tagger is None:
            from enrichment.tagging.engine import Tagger

            self._tagger = Tagger.from_settings(self.settings, use_clip=self._use_clip)
            self.models_loaded["tagger"] += 1
            if self._tagger.clip is not None:
                self.models_loaded["clip"] += 1
            if self._tagger.clip is not None:
                from enrichment.embeddings.image_cache import ImageEmbeddingCache

                self._tagger.clip.embedding_cache = ImageEmbeddingCache(
                    self.url, self.schema, self._tagger.model_id
                )
        return self._tagger

    @property
    def embedder(self):
        if self._embedder is None:
            from enrichment.embeddings.factory import text_embedder_from_settings

            self._embedder = text_embedder_from_settings(self.settings)
            self.models_loaded["text_embedder"] += 1
        return self._embedder

    @property
    def next_clip(self):
        """The ``ENRICHMENT_CLIP_MODEL_NEXT`` model during an image re-embed, else None."""
        if self._next_clip is False:
            name = self.settings.clip_model_next
            self._next_clip = None
            if name and name != self.settings.clip_model:
                from enrichment.embeddings.image_cache import ImageEmbeddingCache
                from enrichment.tagging.signals.clip import ClipModel

                self._next_clip = ClipModel.load(name, batch_size=self.settings.clip_batch_size)
                self.models_loaded["clip_next"] += 1
                self._next_clip.embedding_cache = ImageEmbeddingCache(
                    self.url, self.schema, self._next_clip.model_id
                )
        return self._next_clip

    @property
    def next_embedder(self):
        """The ``ENRICHMENT_TEXT_MODEL_NEXT`` model during a re-embed, else None."""
        if self._next_embedder is False:
            from enrichment.embeddings.factory import text_embedder_from_settings

            self._next_embedder = text_embedder_from_settings(self.settings, next_model=True)
            if self._next_embedder is not None:
                self.models_loaded["text_embedder_next"] += 1
        return self._next_embedder

    # -- one shard ---------------------------------------------------------------------
    def process(self, run_id: str, shard: int, *, force: bool = False) -> dict:
        """Process one shard and write its result; skipped when already done unless forced."""
        previous = self.shards.read_result(run_id, shard)
        if previous and previous.get("status") == "ok" and not force:
            log.info(
                "run %s shard %d already processed; skipping (use --force to redo)", run_id, shard
            )
            return {**previous, "skipped_already_done": True}
        started = time.monotonic()
        items = [ChangeItem.from_json(d) for d in self.shards.read_manifest(run_id, shard)]
        counts: Counter = Counter(f"class_{i.change_class}" for i in items)
        counts["items"] = len(items)

        steps = [
            ("delete", self._deletes, [i for i in items if i.change_class == DELETED]),
            ("metadata", self._metadata, [i for i in items if i.change_class == METADATA_ONLY]),
            ("tag", lambda its, c: self._tag(run_id, its, c), [i for i in items if i.retag]),
            ("embed_text", self._embed_text, [i for i in items if i.embed_text]),
        ]
        if "image" in self.settings.vector_kinds:
            steps.append(("embed_image", self._embed_images, [i for i in items if i.embed_image]))
        sinks_before = self._sink_stats()
        loaded_before = Counter(self.models_loaded)
        step_seconds = {}
        self._superseded: set[str] = set()
        for name, step, chosen in steps:
            step_started = time.monotonic()
            step(self._still_owned(run_id, chosen), counts)
            step_seconds[name] = round(time.monotonic() - step_started, 3)
        self._still_owned(run_id, [])  # a run fenced meanwhile writes no result
        if self._superseded:
            counts["items_superseded"] = len(self._superseded)

        counts.update(self._sink_stats() - sinks_before)  # retries, resends, docs written
        result = {
            "run_id": run_id,
            "shard": shard,
            "status": "ok",
            "counts": dict(counts),
            "seconds": round(time.monotonic() - started, 3),
            "step_seconds": step_seconds,
            "models_loaded": sorted((self.models_loaded - loaded_before).elements()),
            "finished_at": datetime.now(UTC).isoformat(),
            "clip_enabled": bool(self._tagger and self._tagger.clip_enabled),
            "tag_model_id": self._tagger.model_id if self._tagger else None,
            "taxonomy_version": self._tagger.taxonomy_version if self._tagger else None,
            "text_model_id": self._embedder.model_id if self._embedder else None,
        }
        self.shards.write_result(run_id, shard, result)
        log.info(
            "run %s shard %d: %s in %.1fs (%s)",
            run_id,
            shard,
            ", ".join(f"{k}={v}" for k, v in sorted(counts.items())),
            result["seconds"],
            ", ".join(f"{k} {v:.1f}s" for k, v in step_seconds.items()),
        )
        return result

    def _still_owned(self, run_id: str, items: list[ChangeItem]) -> list[ChangeItem]:
        """``items`` minus SKUs a newer run holds; raises RunFenced for a fenced run."""
        from enrichment.runs import fencing

        mine = fencing.owned(self.url, self.schema, run_id, [i.sku for i in items])
        self._superseded.update(i.sku for i in items if i.sku not in mine)
        return [i for i in items if i.sku in mine]

    def _sink_stats(self) -> Counter:
        """Counters of the production sinks (e.g. Elasticsearch retries), prefixed."""
        out: Counter = Counter()
        for prefix, store in (("tag_sink", self.tags), ("vector_sink", self.vectors)):
            for sink in getattr(store, "sinks", None) or []:
                for key, value in dict(getattr(sink, "stats", None) or {}).items():
                    out[f"{prefix}_{key}"] += value
        return out

    # -- steps -------------------------------------------------------------------------
    def _deletes(self, items: list[ChangeItem], counts: Counter) -> None:
        skus = [i.sku for i in items]
        if not skus:
            return
        counts["tags_deleted"] += self.tags.delete(skus)
        counts["vectors_deleted"] += self.vectors.delete(skus)
        quarantine.clear(self.url, self.schema, skus)
        counts["products_deleted"] += len(skus)

    def _metadata(self, items: list[ChangeItem], counts: Counter) -> None:
        if not items:
            return
        counts["docs_metadata_updated"] += self.tags.update_metadata([_doc(i) for i in items])
        counts["vectors_metadata_updated"] += self.vectors.update_metadata(
            None, {i.sku: _vector_meta(i) for i in items}
        )

    def _load_images(self, items: list[ChangeItem]) -> list:
        """Primary photos for the image tower, decoded as the tagger decodes them for CLIP."""
        from enrichment.images.intake import ImageRejected, fetch_image, policy_from_settings
        from enrichment.tagging.pipeline import decode_sides

        policy = policy_from_settings(self.settings)
        sides = decode_sides(True)

        def load(item: ChangeItem):
            images = (item.product or {}).get("images") or []
            if not images:
                return None
            try:
                return fetch_image(images[0], policy, **sides)
            except ImageRejected as exc:
                return exc

        with ThreadPoolExecutor(FETCH_THREADS) as pool:
            return list(pool.map(load, items))

    def _tagged(self, items: list[ChangeItem]):
        """Tagged items in input order: worker processes without CLIP, else in-process
        with the next batch loading while the model runs."""
        from enrichment.images.intake import policy_from_settings
        from enrichment.tagging.pipeline import POOL_CHUNK, TagPool, default_workers, tag_serial

        tagger = self.tagger
        policy = policy_from_settings(self.settings)
        jobs = [_job(i) for i in items]
        workers = self.settings.tag_workers or default_workers()
        if tagger.clip is None and workers > 1 and len(jobs) > POOL_CHUNK:
            if self._pool is None:
                self._pool = TagPool(tagger, policy, workers)
                self.models_loaded["tag_pool"] += 1
            return self._pool.tag(jobs)
        return tag_serial(tagger, jobs, policy, TAG_BATCH)

    def _tag(self, run_id: str, items: list[ChangeItem], counts: Counter) -> None:
        if not items:
            return
        tagger = self.tagger
        tagger.item_budget_seconds = self.settings.item_time_budget_seconds  # before the pool
        tagged = self._tagged(items)
        self._superseded = getattr(self, "_superseded", set())
        for batch in _chunks(items, TAG_BATCH):
            done = list(itertools.islice(tagged, len(batch)))  # consumed even if superseded
            owned = {i.sku for i in self._still_owned(run_id, batch)}  # a newer run may start
            kept = [(i, t) for i, t in zip(batch, done, strict=True) if i.sku in owned]
            if not kept:
                continue
            batch, done = [i for i, _ in kept], [t for _, t in kept]
            bad = [r for i, t in kept if (r := _quarantined(i, t))]
            docs = [
                TagDocument(
                    doc=_doc(i, i.content_hash),
                    tags=[t.to_dict() for t in result.tags],
                    taxonomy_version=tagger.taxonomy_version,
                    model_id=tagger.model_id,
                    content_hash=i.content_hash or "",
                    run_id=run_id,
                )
                for i, result in zip(batch, done, strict=True)
            ]
            counts["tags_written"] += self.tags.replace_tags(docs)
            counts["items_tagged"] += len(batch)
            counts["items_with_no_tag"] += sum(1 for t in done if not t.tags)
            counts["items_tagging_error"] += sum(1 for t in done if t.tagging_error)
            if over := sum(1 for t in done if t.over_budget):
                counts["items_time_budget"] += over
            counts["items_without_image"] += sum(1 for i in batch if not _image_ref(i))
            quarantine.replace(self.url, self.schema, [i.sku for i in batch], bad, run_id)
            counts["images_quarantined"] += len(bad)
            counts["images_loaded"] += sum(1 for t in done if t.image_loaded)

    def close(self) -> None:
        """Stop the tagging worker processes, if any were started."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _embed_text(self, items: list[ChangeItem], counts: Counter) -> None:
        """Text vectors into the configured model's index version (see vector_sync)."""
        if items:
            from enrichment.vectors.sync import sync_text

            sync_text(self.vectors, self.embedder, items, counts, _vector_meta)
            if self.next_embedder is not None:  # dual write while a re-embed is running
                extra: Counter = Counter()
                sync_text(self.vectors, self.next_embedder, items, extra, _vector_meta)
                counts.update({f"next_{k}": v for k, v in extra.items()})

    def _embed_images(self, items: list[ChangeItem], counts: Counter) -> None:
        """Primary-image vectors from the tagger's CLIP model (see vector_sync), and from
        ``ENRICHMENT_CLIP_MODEL_NEXT`` too while an image re-embed is running."""
        if not items:
            return
        from enrichment.embeddings.embedders import ImageEmbedder
        from enrichment.vectors.sync import sync_images

        embedders = [(ImageEmbedder(self.tagger.clip), counts)]
        if self.next_clip is not None:
            embedders.append((ImageEmbedder(self.next_clip), Counter()))
        for embedder, into in embedders:
            sync_images(self.vectors, embedder, items, into, _vector_meta, self._load_images)
        if len(embedders) > 1:
            counts.update({f"next_{k}": v for k, v in embedders[1][1].items()})


_WORKERS: dict[tuple, ShardWorker] = {}


def shared_worker(settings: Settings | None = None, *, use_clip: bool | None = None) -> ShardWorker:
    """A worker per (settings, CLIP choice) kept for the process, so models load once."""
    settings = settings or load_settings()
    # stores and sinks read further ENRICHMENT_* variables: a change there is a new worker
    env = tuple(with_prefix("ENRICHMENT_").items())
    key = (settings, use_clip, env)
    if key not in _WORKERS:
        _WORKERS[key] = ShardWorker(settings, use_clip=use_clip)
    return _WORKERS[key]


def process_shard(
    run_id: str,
    shard: int,
    *,
    settings: Settings | None = None,
    force: bool = False,
    use_clip: bool | None = None,
) -> dict:
    """Process one shard (models are loaded once per process)."""
    return shared_worker(settings, use_clip=use_clip).process(run_id, shard, force=force)
