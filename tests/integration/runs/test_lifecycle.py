"""Incremental runs on the real embedded PostgreSQL: change classes, idempotence, bounds."""

from __future__ import annotations

import pytest

from enrichment.db.connection import connect
from enrichment.orchestration import pipeline
from enrichment.runs import lifecycle as runs
from enrichment.runs.status import platform_status
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration


@pytest.fixture
def catalog(platform_db):
    cat = Catalog(platform_db)
    cat.add("A", "Classic tee", "red")
    cat.add("B", "Summer dress", "blue", category="Dresses")
    cat.add("C", "Chino pants", "green", category="Pants")
    cat.add("D", "Wool hat", "black", category="Hats")
    cat.add("E", "Canvas bag", "yellow", category="Bags")
    return cat


def _run(cat: Catalog, run_id: str, **kw) -> dict:
    return pipeline.run_all(run_id, cat.now(), settings=cat.settings, use_clip=False, **kw)


def _tags(cat: Catalog) -> list[tuple]:
    return cat.sql(
        "SELECT sku, attribute, value, confidence, updated_at FROM enrichment.tags ORDER BY 1, 2, 3"
    )


def _text_vectors(cat: Catalog) -> dict[str, tuple]:
    name = cat.sql(
        "SELECT name FROM enrichment.vector_indexes WHERE kind = 'text' AND state = 'active'"
    )[0][0]
    return {
        r[0]: r[1:]
        for r in cat.sql(f"SELECT sku, content_hash, embedding::text FROM enrichment.vec_{name}")
    }


def test_first_run_processes_everything_and_a_repeat_processes_nothing(catalog):
    first = _run(catalog, "r1")
    assert first["changes"] == {"new": 5}
    assert first["processed"] == 5 and first["text_embedded"] == 5
    status = platform_status(catalog.settings)
    assert status["products_active"] == 5
    assert status["tagged_active"] == 5
    assert status["vectors_active"] == 5
    assert status["orphan_tags"] == status["orphan_vectors"] == 0
    tags_before = _tags(catalog)
    assert any(t[1] == "color" and t[2] == "red" for t in tags_before if t[0] == "A")

    second = _run(catalog, "r2")
    assert second["changes"] == {}
    assert second["processed"] == 0
    assert second["skipped_unchanged"] == 0  # the change log had nothing: nothing re-read
    assert _tags(catalog) == tags_before
    # the first run read everything; the second's window starts where the first stopped
    assert first["window"]["lower"] is None
    assert "window beginning .." in runs.format_summary(first)
    assert second["window"]["lower"] == first["window"]["upper"]
    assert f"window {first['window']['upper']} .." in runs.format_summary(second)


def test_each_change_class_is_detected_and_only_that_work_is_done(catalog):
    _run(catalog, "r1")
    vectors_before = _text_vectors(catalog)
    catalog.set_price("A", 12.5)  # metadata only
    catalog.set_title("B", "Linen summer dress")  # text
    catalog.set_image("C", "blue")  # image
    catalog.soft_delete("D")
    catalog.hard_delete("E")
    catalog.add("F", "Hoodie", "green", category="Hoodies")

    summary = _run(catalog, "r2")
    assert summary["changes"] == {
        "metadata_only": 1,
        "text_changed": 1,
        "image_changed": 1,
        "deleted": 2,
        "new": 1,
    }
    assert summary["retagged"] == 3  # B, C, F - never A
    assert summary["text_embedded"] == 2  # B and F - not A (price) nor C (image)
    assert summary["deleted"] == 2
    vectors = _text_vectors(catalog)
    assert vectors["A"] == vectors_before["A"]  # not re-embedded
    assert vectors["C"] == vectors_before["C"]
    assert vectors["B"][0] != vectors_before["B"][0]
    assert "D" not in vectors and "E" not in vectors
    assert catalog.sql("SELECT price FROM enrichment.product_docs WHERE sku = 'A'")[0][0] == 12.5
    assert (
        catalog.sql(
            "SELECT price FROM enrichment.vec_"
            + catalog.sql("SELECT name FROM enrichment.vector_indexes")[0][0]
            + " WHERE sku = 'A'"
        )[0][0]
        == 12.5
    )
    colour_c = catalog.sql(
        "SELECT value FROM enrichment.tags WHERE sku = 'C' AND attribute = 'color'"
    )
    assert colour_c == [("blue",)]
    status = platform_status(catalog.settings)
    assert status["products_active"] == 4
    assert status["orphan_tags"] == 0 and status["orphan_vectors"] == 0
    assert status["last_run"]["changes"]["deleted"] == 2


def test_upper_bound_excludes_later_changes_until_the_next_run(catalog):
    _run(catalog, "r1")
    cut = catalog.now()
    catalog.set_title("A", "Tee, after the cut")
    summary = pipeline.run_all("r2", cut, settings=catalog.settings, use_clip=False)
    assert summary["changes"] == {}
    summary = _run(catalog, "r3")
    assert summary["changes"] == {"text_changed": 1}


def test_watermark_moves_only_when_every_shard_succeeded(catalog, monkeypatch):
    _run(catalog, "r1")
    wm_before = catalog.sql("SELECT position, run_id FROM enrichment.capture_positions")
    catalog.set_title("A", "New title")
    run = runs.detect("r2", catalog.now(), settings=catalog.settings)
    assert run["shards"] == 1
    with pytest.raises(runs.RunError, match=r"shards \[0\]"):
        runs.commit("r2", settings=catalog.settings)
    assert catalog.sql("SELECT position, run_id FROM enrichment.capture_positions") == wm_before
    # detect again (a retry): same change set, nothing re-read differently
    again = runs.detect("r2", catalog.now(), settings=catalog.settings)
    assert again["counts"] == run["counts"] and again["upper_ts"] == run["upper_ts"]
    summary = pipeline.run_all("r2", catalog.now(), settings=catalog.settings, use_clip=False)
    assert summary["changes"] == {"text_changed": 1}
    assert catalog.sql("SELECT run_id FROM enrichment.capture_positions") == [("r2",)]


def test_rerunning_a_committed_run_changes_nothing(catalog):
    first = _run(catalog, "r1")
    tags = _tags(catalog)
    again = _run(catalog, "r1")
    assert again == first
    assert _tags(catalog) == tags


def test_late_committing_row_inside_the_overlap_is_not_missed(catalog):
    _run(catalog, "r1")
    # A transaction that started before r1's scan commits now with an older updated_at.
    catalog.sql(
        "UPDATE catalog.products SET title = 'Late edit', "
        "updated_at = clock_timestamp() - interval '60 seconds' WHERE sku = 'B'"
    )
    summary = _run(catalog, "r2")
    assert summary["changes"] == {"text_changed": 1}


def test_backfill_reprocesses_a_selection_without_moving_the_watermark(catalog):
    _run(catalog, "r1")
    wm = catalog.sql("SELECT position, run_id FROM enrichment.capture_positions")
    summary = pipeline.run_all(
        "bf1",
        catalog.now(),
        kind="backfill",
        settings=catalog.settings,
        selection={"skus": ["A", "B"], "force": True},
        use_clip=False,
    )
    assert summary["changes"] == {"reprocess": 2}
    assert summary["retagged"] == 2
    assert catalog.sql("SELECT position, run_id FROM enrichment.capture_positions") == wm


def test_restored_product_is_tagged_again(catalog):
    _run(catalog, "r1")
    catalog.soft_delete("A")
    _run(catalog, "r2")
    assert catalog.sql("SELECT count(*) FROM enrichment.tags WHERE sku = 'A'") == [(0,)]
    catalog.sql("UPDATE catalog.products SET is_deleted = false WHERE sku = 'A'")
    summary = _run(catalog, "r3")
    assert summary["changes"] == {"new": 1}
    assert catalog.sql("SELECT count(*) > 0 FROM enrichment.tags WHERE sku = 'A'") == [(True,)]


def test_bad_image_is_quarantined_and_text_tags_still_written(catalog):
    (catalog.root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    catalog.add("G", "Red cotton t-shirt", "red")
    catalog.sql(
        "UPDATE catalog.product_images SET url = 'broken.jpg' WHERE product_id = "
        "(SELECT id FROM catalog.products WHERE sku = 'G')"
    )
    summary = _run(catalog, "r1")
    assert summary["quarantined"] == 1
    rows = catalog.sql("SELECT sku, image_ref, reason FROM enrichment.quarantine")
    assert [(r[0], r[1]) for r in rows] == [("G", "broken.jpg")]
    tags = catalog.sql("SELECT attribute, value FROM enrichment.tags WHERE sku = 'G'")
    assert ("color", "red") in tags and ("category", "t-shirt") in tags
    with connect(catalog.url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM enrichment.tags WHERE sku <> 'G'")
        assert cur.fetchone()[0] > 0


def test_keyset_pages_return_every_row_once_even_with_equal_timestamps(catalog):
    from enrichment.cdc.detect import scan_window
    from enrichment.cdc.documents import scan_documents
    from enrichment.cdc.mapping import load_mapping

    catalog.sql("UPDATE catalog.products SET updated_at = '2026-01-01T00:00:00Z'")
    with connect(catalog.url) as conn:
        window = [s.sku for s in scan_window(conn, "catalog", None, catalog.now(), page_size=2)]
        later = list(scan_window(conn, "catalog", (catalog.now(), 0), catalog.now(), page_size=2))
        mapped = [s.sku for s in scan_documents(conn, load_mapping(), page_size=2)]
    assert sorted(window) == mapped == ["A", "B", "C", "D", "E"]
    assert len(window) == len(set(window)) == 5
    assert later == []


def test_shards_grow_instead_of_exceeding_the_mapped_task_limit(catalog, monkeypatch):
    from enrichment.config import load_settings

    monkeypatch.setenv("ENRICHMENT_SHARD_SIZE", "1")
    monkeypatch.setenv("ENRICHMENT_MAX_SHARDS", "2")
    run = runs.detect("r1", catalog.now(), settings=load_settings())
    assert run["shards"] == 2  # 5 products: 3 + 2, not 5 shards of 1
    sizes = catalog.sql("SELECT shard, count(*) FROM enrichment.run_items GROUP BY 1 ORDER BY 1")
    assert sizes == [(0, 3), (1, 2)]


def test_an_image_that_breaks_the_engine_is_quarantined_and_the_run_goes_on(catalog, monkeypatch):
    from PIL import Image

    from enrichment.tagging.signals.colour import ColourNamer

    original = ColourNamer.analyse

    def fragile(self, image, *args, **kwargs):
        if image.getpixel((0, 0)) == (201, 31, 31):  # odd.png, at whatever decode scale
            raise ValueError("cannot analyse this photo")
        return original(self, image, *args, **kwargs)

    monkeypatch.setattr(ColourNamer, "analyse", fragile)
    Image.new("RGB", (161, 161), (201, 31, 31)).save(catalog.root / "odd.png")
    catalog.add("G", "Red cotton t-shirt", "red")
    catalog.sql(
        "UPDATE catalog.product_images SET url = 'odd.png' WHERE product_id = "
        "(SELECT id FROM catalog.products WHERE sku = 'G')"
    )
    summary = _run(catalog, "r1")
    assert summary["processed"] == 6 and summary["quarantined"] == 1
    assert catalog.sql("SELECT sku, reason, detail FROM enrichment.quarantine") == [
        ("G", "tagging_error", "ValueError: cannot analyse this photo")
    ]
    tags = catalog.sql("SELECT attribute, value FROM enrichment.tags WHERE sku = 'G'")
    assert ("category", "t-shirt") in tags  # text-based tags still written
    sources = dict(
        catalog.sql("SELECT sku, sources FROM enrichment.tags WHERE attribute = 'color'")
    )
    assert sources["G"] == ["text"]  # its title, not its pixels
    assert all("pixels" in sources[sku] for sku in "ABCDE")  # the others kept their pixels


def test_an_engine_failing_on_every_image_fails_the_shard_loudly(catalog, monkeypatch):
    from enrichment.tagging.signals.colour import ColourNamer

    def broken(self, image, *args, **kwargs):
        raise RuntimeError("model weights are corrupt")

    monkeypatch.setattr(ColourNamer, "analyse", broken)
    with pytest.raises(RuntimeError, match="engine or model problem"):
        _run(catalog, "r1")
    assert catalog.sql("SELECT count(*) FROM enrichment.capture_positions") == [(0,)]


def _index(store, kind: str = "text"):
    return store.active_index(kind)


def test_a_fresh_install_bulk_fills_its_first_index_then_builds_hnsw(catalog):
    from enrichment.runs.worker import ShardWorker

    settings = catalog.settings
    pipeline.ensure_ready(settings)
    run = runs.detect("r1", catalog.now(), settings=settings)
    worker = ShardWorker(settings, use_clip=False)
    for shard in range(run["shards"]):
        worker.process("r1", shard)
    index = _index(worker.vectors)
    assert worker.vectors.count(index) == 5
    assert not worker.vectors.has_hnsw(index)  # filled into a plain table, no graph yet
    runs.commit("r1", settings=settings)
    assert worker.vectors.has_hnsw(index)
    got = worker.vectors.similar("text", "A", k=2)
    assert len(got) == 2 and "A" not in [n.sku for n in got]


def _process_fresh(cat: Catalog, run_id: str):
    from enrichment.runs.worker import ShardWorker

    run = runs.detect(run_id, cat.now(), settings=cat.settings)
    worker = ShardWorker(cat.settings, use_clip=False)
    results = [worker.process(run_id, s) for s in range(run["shards"])]
    runs.commit(run_id, settings=cat.settings)
    return worker, results


def test_metadata_and_delete_only_shards_load_no_model(catalog):
    _run(catalog, "r1")
    catalog.set_price("A", 99.0)
    catalog.soft_delete("B")
    worker, results = _process_fresh(catalog, "r2")
    assert sum(r["counts"].get("class_metadata_only", 0) for r in results) == 1
    assert sum(r["counts"].get("products_deleted", 0) for r in results) == 1
    assert worker.models_loaded == {} and all(r["models_loaded"] == [] for r in results)
    assert catalog.sql("SELECT price FROM enrichment.product_docs WHERE sku = 'A'") == [(99,)]

    catalog.set_title("C", "Slim chino pants in navy")  # text changed: the model is needed
    worker, results = _process_fresh(catalog, "r3")
    assert worker.models_loaded["text_embedder"] == 1
    assert "text_embedder" in [m for r in results for m in r["models_loaded"]]


def test_a_commit_that_grows_the_state_a_lot_analyses_it(platform_db):
    table = "enrichment.product_state"

    def estimated(cur) -> float:
        cur.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,))
        return cur.fetchone()[0]

    with connect(platform_db.database_url) as conn, conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (sku, active) SELECT 'S' || g, true "
            "FROM generate_series(1, 12000) g"
        )
        runs._analyse_if_grown(cur, table, 999)  # too few rows to matter
        assert estimated(cur) < 1000
        runs._analyse_if_grown(cur, table, 12000)
        assert estimated(cur) == 12000
        cur.execute(f"INSERT INTO {table} (sku, active) SELECT 'T' || g, true "
                    "FROM generate_series(1, 1000) g")  # fmt: skip
        runs._analyse_if_grown(cur, table, 1000)  # 8 % of the table: left to autovacuum
        assert estimated(cur) == 12000
