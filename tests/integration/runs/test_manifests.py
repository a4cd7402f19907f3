"""The streamed change set: run_items by COPY, chunks merged past max_shards, odd SKUs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enrichment.cdc.detect import DELETED, NEW, ChangeItem
from enrichment.db.connection import connect
from enrichment.runs.manifests import CollectedItems, ManifestWriter
from enrichment.runs.shard_store import ShardStore

pytestmark = pytest.mark.integration


def _item(sku: str, cls: str = NEW) -> ChangeItem:
    return ChangeItem(
        sku=sku, product_id=1, change_class=cls, active=cls != DELETED, text_hash="t",
        source_updated_at="2026-11-30T10:00:00+00:00", product={"title": f"Tee {sku}"},
    )  # fmt: skip


def _write(settings, run_id: str, items, shard_size: int, max_shards: int, extra=()):
    store = ShardStore.from_settings(settings)
    with connect(settings.database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO enrichment.runs (run_id, kind, status, upper_ts, params, shards, counts)"
            " VALUES (%s, 'incremental', 'detected', %s, '{}', 0, '{}')",
            (run_id, datetime.now(UTC)),
        )
        with ManifestWriter(cur, "enrichment", store, run_id, shard_size, max_shards) as writer:
            for item in items:
                writer.add(item)
            added = writer.add_new(list(extra))
            shards = writer.close()
        cur.execute(
            "SELECT sku, shard, change_class, source_updated_at FROM enrichment.run_items "
            "WHERE run_id = %s ORDER BY sku",
            (run_id,),
        )
        rows = cur.fetchall()
    manifests = [store.read_manifest(run_id, s) for s in range(shards)]
    return shards, added, rows, manifests


def test_chunks_merge_when_the_run_would_exceed_max_shards(platform_db):
    items = [_item(f"S{n:03d}") for n in range(25)]
    shards, _, rows, manifests = _write(platform_db, "r1", items, shard_size=4, max_shards=3)
    # 7 chunks of 4 -> 3 per shard -> 3 shards (12, 12, 1 items)
    assert shards == 3 and [len(m) for m in manifests] == [12, 12, 1]
    assert all("shard" not in line for m in manifests for line in m)  # the file says it
    by_sku = {sku: shard for sku, shard, _, _ in rows}
    assert all(by_sku[line["sku"]] == n for n, m in enumerate(manifests) for line in m)
    assert [line["sku"] for m in manifests for line in m] == [i.sku for i in items]


def test_odd_skus_survive_copy_and_deletes_are_added_once(platform_db):
    odd = ["tab\there", "back\\slash", "new\nline", "quote'\"", "ünï"]
    items = [_item(s) for s in odd]
    extra = [_item("ünï", DELETED), _item("gone", DELETED)]
    shards, added, rows, manifests = _write(platform_db, "r2", items, 2, 100, extra)
    assert added == 1 and shards == 3
    assert sorted(r[0] for r in rows) == sorted([*odd, "gone"])
    assert {r[0]: r[2] for r in rows}["gone"] == DELETED
    assert rows[0][3] == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert sorted(line["sku"] for m in manifests for line in m) == sorted([*odd, "gone"])


def test_an_empty_change_set_has_no_shards(platform_db):
    assert _write(platform_db, "r3", [], 500, 1024)[0] == 0


def test_collected_items_dedupe_like_the_writer():
    items = CollectedItems()
    items.add(_item("A"))
    assert items.add_new([_item("A", DELETED), _item("B", DELETED), _item("B", DELETED)]) == 1
    assert [i.sku for i in items] == ["A", "B"]


def test_a_failed_copy_is_raised_and_leaves_no_spool(platform_db, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    twice = [_item("SAME"), _item("OTHER"), _item("SAME")]  # one run, one SKU twice: PK
    with pytest.raises(Exception, match="run_items_pkey"):
        _write(platform_db, "r4", twice, shard_size=1, max_shards=100)
    assert not list(tmp_path.glob("enrichment-detect-*"))


def test_manifest_lines_read_back_as_the_items(platform_db):
    from decimal import Decimal

    item = _item("Ü-1")
    item.product = {"title": "Blusa \u00e9t\u00e9 \u2014 \U0001f600", "stock": Decimal("12"),
                    "price": 19.99, "images": ["a\tb.jpg"], "brand": None}  # fmt: skip
    _, _, _, manifests = _write(platform_db, "r5", [item], 10, 10)
    expected = item.to_json()
    del expected["shard"]
    expected["product"] = {**item.product, "stock": "12"}  # unknown types as text, as before
    assert manifests == [[expected]]
