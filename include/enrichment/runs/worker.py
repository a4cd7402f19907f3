"""The shard worker: everything heavy for one shard of a run's change set.

``python -m enrichment process-shard --run-id R --shard N`` reads the shard's manifest,
deletes what was deleted, refreshes metadata-only changes without models, tags changed
content (quarantining bad images), embeds changed text (and images when configured),
and writes the shard's result file. Locally an Airflow task calls it in-process; in
production a GPU pod runs the same command. Every write is an idempotent upsert.
"""

from __future__ import annotations

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
DECODE_MAX_SIDE = 512  # JPEGs decode at a reduced DCT scale: CLIP sees 224 px, colour 128 px


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


def _tag_inputs(batch: list[ChangeItem], loaded: list, counts: Counter) -> tuple[list, list]:
    """The tagger's inputs for ``batch`` and quarantine records of its rejected images."""
    from enrichment.images.intake import ImageRejected
    from enrichment.tagging.engine import TagInput

    inputs, bad = [], []
    for item, img in zip(batch, loaded, strict=True):
        p = item.product or {}
        image = image_hash = None
        if isinstance(img, ImageRejected):
            bad.append(
                quarantine.QuarantineRecord(
                    item.sku, p["images"][0], img.reason, img.detail, img.content_hash
                )
            )
        elif img is not None:
            image, image_hash = img.image, img.sha256
        else:
            counts["items_without_image"] += 1
        inputs.append(
            TagInput(
                sku=item.sku,
                title=p.get("title") or "",
                description=p.get("description") or "",
                category=p.get("category"),
                image=image,
                image_hash=image_hash,
            )
        )
    return inputs, bad


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

    @property
    def tagger(self):
        if self._tagger is None:
            from enrichment.tagging.engine import Tagger

            self._tagger = Tagger.from_settings(self.settings, use_clip=self._use_clip)
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
        from enrichment.images.intake import ImageRejected, fetch_image, policy_from_settings

        policy = policy_from_settings(self.settings)

        def load(item: ChangeItem):
            images = (item.product or {}).get("images") or []
            if not images:
                return None
            try:
                return fetch_image(images[0], policy, max_side=DECODE_MAX_SIDE)
            except ImageRejected as exc:
                return exc

        with ThreadPoolExecutor(FETCH_THREADS) as pool:
            return list(pool.map(load, items))

    def _tag(self, run_id: str, items: list[ChangeItem], counts: Counter) -> None:
        if not items:
            return
        from enrichment.images.intake import ImageRejected
        from enrichment.tagging.engine import tag_isolating_failures

        tagger = self.tagger
        tagger.item_budget_seconds = self.settings.item_time_budget_seconds
        self._superseded = getattr(self, "_superseded", set())
        for batch in _chunks(items, TAG_BATCH):
            batch = self._still_owned(run_id, batch)  # re-checked: a newer run may start
            if not batch:
                continue
            loaded = self._load_images(batch)
            inputs, bad = _tag_inputs(batch, loaded, counts)
            results, failed = tag_isolating_failures(tagger, inputs)
            for n, (reason, detail) in failed.items():
                images = (batch[n].product or {}).get("images") or [""]
                bad.append(
                    quarantine.QuarantineRecord(
                        batch[n].sku, images[0], reason, detail, inputs[n].image_hash
                    )
                )
                counts[f"items_{reason}"] += 1
            docs = [
                TagDocument(
                    doc=_doc(i, i.content_hash),
                    tags=[t.to_dict() for t in tags],
                    taxonomy_version=tagger.taxonomy_version,
                    model_id=tagger.model_id,
                    content_hash=i.content_hash or "",
                    run_id=run_id,
                )
                for i, tags in zip(batch, results, strict=True)
            ]
            counts["tags_written"] += self.tags.replace_tags(docs)
            counts["items_tagged"] += len(batch)
            counts["items_with_no_tag"] += sum(1 for tags in results if not tags)
            quarantine.replace(self.url, self.schema, [i.sku for i in batch], bad, run_id)
            counts["images_quarantined"] += len(bad)
            counts["images_loaded"] += sum(
                1 for x in loaded if x is not None and not isinstance(x, ImageRejected)
            )

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
