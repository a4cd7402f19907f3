"""A text model change mid-life: build the new version, switch atomically, drop the old.

Two tiny random sentence-transformers models (different sizes) stand in for the old and
the new model. A thread asks for similar products the whole time.
"""

from __future__ import annotations

import threading
import time

import pytest

from enrichment.bluegreen.fill import fill
from enrichment.bluegreen.vector_versions import SwitchRefused, drop, switch, versions
from enrichment.config import ConfigError, load_settings
from enrichment.db.connection import database_url
from enrichment.orchestration import pipeline
from enrichment.runs.status import platform_status
from enrichment.vectors.store import PgVectorStore
from tests.catalog_fixture import Catalog
from tests.fakes.tiny_text_model import build_tiny_text_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("text-models")
    return (
        build_tiny_text_model(root / "old-model", dim=32, seed=1),
        build_tiny_text_model(root / "new-model", dim=24, seed=2),
    )


class Queries(threading.Thread):
    """Asks for the neighbours of A until stopped; records answers per phase and errors."""

    def __init__(self, store: PgVectorStore):
        super().__init__(daemon=True)
        self.store, self.phase, self.stop = store, "old", threading.Event()
        self.answers: list[tuple[str, int]] = []
        self.errors: list[BaseException] = []

    def run(self):
        while not self.stop.is_set():
            phase = self.phase
            try:
                self.answers.append((phase, len(self.store.similar("text", "A", k=3))))
            except BaseException as exc:  # noqa: BLE001 - every failure is a test failure
                self.errors.append(exc)

    def answered(self, phase: str) -> None:
        deadline = time.monotonic() + 30
        while not any(p == phase for p, _ in self.answers) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert any(p == phase for p, _ in self.answers), f"no answer while {phase}"


def test_switching_the_text_model_keeps_queries_answering(platform_db, models, monkeypatch):
    old_model, new_model = models
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", str(old_model))
    old_settings = load_settings()
    cat = Catalog(old_settings)
    for sku, title in zip(
        "ABCDEF",
        ["Red tee", "Summer dress", "Chino pants", "Wool hat", "Canvas bag", "Hoodie"],
        strict=True,
    ):
        cat.add(sku, title)
    pipeline.run_all("r1", cat.now(), settings=old_settings, use_clip=False)
    store = PgVectorStore(database_url(old_settings), "enrichment")
    old = store.active_index("text")
    assert old.dim == 32 and store.count(old) == 6
    queries = Queries(store)
    queries.start()
    queries.answered("old")

    # the model changes: runs now write to a new, building version
    monkeypatch.setenv("ENRICHMENT_TEXT_MODEL", str(new_model))
    settings = load_settings()
    b_before = store.vector_of(old, "B")
    cat.set_title("B", "Linen summer dress")
    cat.add("G", "Denim jacket")
    pipeline.run_all("r2", cat.now(), settings=settings, use_clip=False)
    new = next(i for i in store.indexes("text") if i.name != old.name)
    assert (new.state, new.dim) == ("building", 24)
    assert store.active_index("text").name == old.name
    assert sorted(store.vectors(new)[0]) == ["B", "G"]
    assert (store.vector_of(old, "B") == b_before).all() and store.vector_of(old, "G") is None
    queries.phase = "building"
    queries.answered("building")

    with pytest.raises(SwitchRefused, match="not complete") as refused:
        switch(settings, kind="text")
    cov = refused.value.coverage
    assert (cov.expected, cov.present, cov.missing, cov.extra) == (7, 2, 5, 0)
    assert cov.missing_sample == ["A", "C", "D", "E", "F"]
    assert store.active_index("text").name == old.name

    halves = [fill(settings, kinds=("text",), use_clip=False, shard=n, shards=2) for n in (0, 1)]
    assert sum(h["counts"]["products"] for h in halves) == 7
    assert sum(h["counts"].get("text_vectors_upserted", 0) for h in halves) == 5
    assert sum(h["counts"].get("text_vectors_skipped_same_content", 0) for h in halves) == 2
    assert all(h["hnsw_built"] == [] for h in halves) and not store.has_hnsw(new)
    again = fill(settings, kinds=("text",), use_clip=False)
    assert again["counts"].get("text_vectors_upserted", 0) == 0
    assert again["counts"]["products"] == 7 and again["hnsw_built"] == [new.name]
    listed = {v["name"]: v for v in versions(settings)}
    assert listed[new.name]["coverage"]["complete"] and listed[new.name]["hnsw"]
    assert listed[old.name]["state"] == "active" and listed[old.name]["coverage"]["missing"] == 1
    assert store.active_index("text").name == old.name  # complete, still not switched

    cat.soft_delete("F")  # deletes reach both versions while both exist
    pipeline.run_all("r3", cat.now(), settings=settings, use_clip=False)
    assert store.vector_of(old, "F") is None and store.vector_of(new, "F") is None

    result = switch(settings, kind="text")
    assert result["active"] == new.name and result["retired"] == [old.name]
    assert result["coverage"]["complete"] and result["coverage"]["present"] == 6
    queries.phase = "switched"
    queries.answered("switched")
    assert store.active_index("text").dim == 24
    status = platform_status(settings)
    assert status["vectors_active"] == status["products_active"] == 6

    cat.set_title("C", "Slim chino pants")  # a worker still configured with the old model
    with pytest.raises(ConfigError, match="retired"):
        pipeline.run_all("r4", cat.now(), settings=old_settings, use_clip=False)

    with pytest.raises(SwitchRefused, match="active"):
        drop(settings, [new.name])
    assert drop(settings, [old.name]) == {"dropped": [old.name]}
    queries.phase = "dropped"
    queries.answered("dropped")
    queries.stop.set()
    queries.join(10)
    assert [i.name for i in store.indexes()] == [new.name]
    # a worker still configured with the dropped model fails instead of restarting it
    with pytest.raises(ConfigError, match="was dropped"):
        pipeline.run_all("r5", cat.now(), settings=old_settings, use_clip=False)
    assert [i.name for i in store.indexes()] == [new.name]
    assert store.undrop(old.name) and not store.undrop(old.name)
    assert cat.sql("SELECT to_regclass(%s)", (old.table("enrichment"),)) == [(None,)]
    assert queries.errors == []
    assert {n for _, n in queries.answers} == {3}


def test_image_versions_cover_the_products_with_a_usable_image(
    platform_db, monkeypatch, tmp_path_factory
):
    from tests.fakes.tiny_clip import build_tiny_clip

    root = tmp_path_factory.mktemp("clips")
    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", str(build_tiny_clip(root / "clip-a", seed=0)))
    settings = load_settings()
    cat = Catalog(settings)
    for sku in "ABCDE":
        cat.add(sku, f"Tee {sku}", "red")
    (settings.image_root / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    cat.sql(
        "UPDATE catalog.product_images SET url = 'broken.jpg' WHERE product_id = "
        "(SELECT id FROM catalog.products WHERE sku = 'D')"
    )
    cat.sql(
        "DELETE FROM catalog.product_images WHERE product_id = "
        "(SELECT id FROM catalog.products WHERE sku = 'E')"
    )
    summary = pipeline.run_all("r1", cat.now(), settings=settings)
    assert summary["quarantined"] == 1 and summary["image_embedded"] == 3
    image_a = next(v for v in versions(settings) if v["kind"] == "image")
    assert image_a["coverage"]["expected"] == 3 and image_a["coverage"]["complete"]

    monkeypatch.setenv("ENRICHMENT_CLIP_MODEL", str(build_tiny_clip(root / "clip-b", seed=1)))
    settings = load_settings()
    counts = fill(settings, kinds=("image",))["counts"]
    assert counts["image_vectors_upserted"] == 3 and counts["image_vectors_unavailable"] == 1
    assert "text_vectors_upserted" not in counts
    result = switch(settings, kind="image", drop_old=True)
    assert result["retired"] == result["dropped"] == [image_a["name"]]
    assert result["coverage"]["present"] == 3
    kinds = sorted((v["kind"], v["state"]) for v in versions(settings))
    assert kinds == [("image", "active"), ("text", "active")]
