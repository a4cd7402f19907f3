"""Re-embed with ``ENRICHMENT_TEXT_MODEL_NEXT``: the serving index never goes stale.

While the next model's version is building, runs embed changed text with both models;
the fill completes the next version; the switch activates it; a worker whose settings
were not moved on is told which setting to change.
"""

from __future__ import annotations

import pytest

from enrichment.bluegreen.fill import fill
from enrichment.bluegreen.vector_versions import switch
from enrichment.config import ConfigError, load_settings
from enrichment.db.connection import database_url
from enrichment.orchestration import pipeline
from enrichment.quality.evaluate import run_quality
from enrichment.runs import worker
from enrichment.vectors.store import PgVectorStore
from tests.catalog_fixture import Catalog
from tests.fakes.tiny_text_model import build_tiny_text_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("text-models-next")
    return (
        build_tiny_text_model(root / "serving", dim=32, seed=3),
        build_tiny_text_model(root / "next", dim=24, seed=4),
    )


def test_runs_write_both_versions_until_the_switch(platform_db, models, monkeypatch):
    serving, nxt = models
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", str(serving))
    worker._WORKERS.clear()
    cat = Catalog(load_settings())
    for sku, title in zip("ABCDE", ["Red tee", "Dress", "Chinos", "Wool hat", "Bag"], strict=True):
        cat.add(sku, title)
    pipeline.run_all("r1", cat.now(), settings=load_settings(), use_clip=False)
    store = PgVectorStore(database_url(load_settings()), "enrichment")
    old = store.active_index("text")

    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL_NEXT", str(nxt))
    settings = load_settings()
    a_before = store.vector_of(old, "A")
    cat.set_title("A", "Red cotton tee")
    cat.add("F", "Denim jacket")
    summary = pipeline.run_all("r2", cat.now(), settings=settings, use_clip=False)
    new = next(i for i in store.indexes("text") if i.name != old.name)
    assert new.state == "building" and store.active_index("text").name == old.name
    counts = summary["step_counts"]
    assert counts["text_vectors_upserted"] == 2 and counts["next_text_vectors_upserted"] == 2
    assert not (store.vector_of(old, "A") == a_before).all()  # serving version is current
    assert store.vector_of(old, "F") is not None
    result = run_quality("r2", settings=settings, docs=False, report=False, record=False)
    failed = [c.name for c in result.checks if c.outcome == "fail"]
    assert not any(name.startswith("vectors") for name in failed), failed

    filled = fill(settings, kinds=("text",), use_clip=False)
    assert filled["counts"]["next_text_vectors_upserted"] == 4  # B, C, D, E
    assert filled["counts"].get("text_vectors_upserted", 0) == 0  # serving one was complete
    assert switch(settings, kind="text")["active"] == new.name

    cat.set_title("B", "Linen dress")
    with pytest.raises(ConfigError, match="ENRICHMENT_TEXT_MODEL"):
        pipeline.run_all("r3", cat.now(), settings=settings, use_clip=False)
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", str(nxt))
    monkeypatch.delenv("ENRICHMENT_TEXT_MODEL_NEXT")
    summary = pipeline.run_all("r3", cat.now(), settings=load_settings(), use_clip=False)
    assert summary["text_embedded"] == 1
    worker._WORKERS.clear()


def test_image_reembed_with_the_next_clip_keeps_the_serving_version_current(
    platform_db, monkeypatch, tmp_path_factory
):
    from tests.fakes.tiny_clip import build_tiny_clip

    root = tmp_path_factory.mktemp("clips-next")
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", str(build_tiny_clip(root / "serving", seed=0)))
    worker._WORKERS.clear()
    cat = Catalog(load_settings())
    for sku, colour in zip("ABC", ["red", "blue", "green"], strict=True):
        cat.add(sku, f"Tee {sku}", colour)
    pipeline.run_all("r1", cat.now(), settings=load_settings())
    store = PgVectorStore(database_url(load_settings()), "enrichment")
    old = store.active_index("image")

    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL_NEXT", str(build_tiny_clip(root / "next", seed=1)))
    settings = load_settings()
    a_before = store.vector_of(old, "A")
    cat.set_image("A", "yellow")
    summary = pipeline.run_all("r2", cat.now(), settings=settings)
    new = next(i for i in store.indexes("image") if i.name != old.name)
    assert new.state == "building"
    counts = summary["step_counts"]
    assert counts["image_vectors_upserted"] == 1 and counts["next_image_vectors_upserted"] == 1
    assert not (store.vector_of(old, "A") == a_before).all()  # serving version is current

    filled = fill(settings, kinds=("image",))
    assert filled["counts"]["next_image_vectors_upserted"] == 2  # B and C
    assert switch(settings, kind="image")["active"] == new.name
    worker._WORKERS.clear()
