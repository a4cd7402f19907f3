"""The CLIP image tower runs once per distinct photo: across SKUs, steps, runs, processes."""

from __future__ import annotations

import numpy as np
import pytest

from enrichment.db.connection import database_url
from enrichment.embeddings.image_cache import ImageEmbeddingCache
from enrichment.orchestration import pipeline
from enrichment.runs import worker
from enrichment.runs.status import platform_status
from tests.catalog_fixture import Catalog
from tests.fakes.tiny_clip import build_tiny_clip

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip-cache"))


@pytest.fixture
def catalog(platform_db, clip_dir, monkeypatch):
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", str(clip_dir))
    worker._WORKERS.clear()
    from enrichment.config import load_settings

    cat = Catalog(load_settings())
    cat.add("A", "Classic tee", "red")
    cat.add("B", "Another tee", "red")  # same photo bytes as A under another file name
    cat.add("C", "Chinos", "green", category="Pants")
    yield cat
    worker._WORKERS.clear()


def _encoded() -> int:
    return sum(
        w.tagger.clip.images_encoded
        for w in worker._WORKERS.values()
        if w._tagger is not None and w.tagger.clip is not None
    )


def _run(cat: Catalog, run_id: str) -> dict:
    return pipeline.run_all(run_id, cat.now(), settings=cat.settings)


def test_each_distinct_photo_is_encoded_once_for_tags_and_vectors(catalog):
    summary = _run(catalog, "r1")
    assert summary["clip_enabled"] and summary["image_embedded"] == 3
    assert _encoded() == 2  # A and B share bytes; image vectors reuse the tagger's embeddings
    status = platform_status(catalog.settings)
    assert status["vectors_active"] == 3  # text and image vectors for every product
    stored = catalog.sql("SELECT count(*) FROM enrichment.image_embeddings")
    assert stored == [(2,)]

    catalog.set_title("A", "Classic cotton tee")  # text change: re-tag, photo unchanged
    assert _run(catalog, "r2")["retagged"] == 1
    assert _encoded() == 2

    worker._WORKERS.clear()  # a new process (another pod): memory cache gone
    catalog.set_title("C", "Slim chinos")
    assert _run(catalog, "r3")["retagged"] == 1
    assert _encoded() == 0  # served from the persistent cache

    catalog.set_image("C", "blue")  # a new photo is encoded, once
    summary = _run(catalog, "r4")
    assert summary["retagged"] == 1 and summary["image_embedded"] == 1
    assert _encoded() == 1


def test_the_cache_returns_stored_embeddings_per_model_and_first_writer_wins(platform_db):
    url, s = database_url(platform_db), platform_db.state_schema
    clip = ImageEmbeddingCache(url, s, "clip-a")
    other = ImageEmbeddingCache(url, s, "clip-b")
    assert clip.get_many([]) == {} and clip.get_many(["h1"]) == {}
    clip.put_many({"h1": np.array([0.5, -0.25, 1.0], dtype=np.float32)})
    clip.put_many({"h1": np.array([9.0, 9.0, 9.0], dtype=np.float32)})  # ignored: same key
    got = clip.get_many(["h1", "h2"])
    assert list(got) == ["h1"] and got["h1"].dtype == np.float32
    assert got["h1"].tolist() == [0.5, -0.25, 1.0]
    assert other.get_many(["h1"]) == {}  # keyed by model too
