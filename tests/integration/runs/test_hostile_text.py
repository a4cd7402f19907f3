"""Huge catalogue text through a whole run and through ``tag-images``: bounded work,
the shard goes on, and an item over its time budget is quarantined with a reason."""

from __future__ import annotations

import json

import pytest

from enrichment.cli.main import main
from enrichment.config import load_settings
from enrichment.orchestration import pipeline
from tests.catalog_fixture import Catalog, write_image

pytestmark = pytest.mark.integration

UNIT = "red cotton t-shirt, striped wool hoodie, not blue. "


def huge(megabytes: int) -> str:
    return UNIT * (megabytes * 2**20 // len(UNIT))


def _tags(cat: Catalog, sku: str) -> set[tuple[str, str]]:
    return set(cat.sql("SELECT attribute, value FROM enrichment.tags WHERE sku = %s", (sku,)))


def test_one_and_ten_megabyte_descriptions_are_tagged_and_the_run_completes(platform_db):
    cat = Catalog(platform_db)
    cat.add("MB1", "Wool hat", "black", category="Hats", description=huge(1))
    cat.add("MB10", "Wool hat", "black", category="Hats", description=huge(10))
    cat.add("OK", "Summer dress", "blue", category="Dresses")
    summary = pipeline.run_all("r1", cat.now(), settings=cat.settings, use_clip=False)
    assert summary["processed"] == 3 and summary["quarantined"] == 0
    for sku in ("MB1", "MB10"):
        assert ("category", "hat") in _tags(cat, sku)
    assert ("category", "dress") in _tags(cat, "OK")
    vectors = cat.sql("SELECT name FROM enrichment.vector_indexes WHERE kind = 'text'")[0][0]
    assert cat.sql(f"SELECT count(*) FROM enrichment.vec_{vectors}") == [(3,)]


def test_an_item_over_its_time_budget_is_quarantined_and_the_shard_goes_on(
    platform_db, monkeypatch
):
    monkeypatch.setenv("ENRICHMENT_TEXT_MAX_CHARS", "0")  # read the whole 10 MB field
    monkeypatch.setenv("ENRICHMENT_ITEM_TIME_BUDGET_SECONDS", "1")
    settings = load_settings()
    cat = Catalog(settings)
    cat.add("SLOW", "Wool hat", "black", category="Hats", description=huge(10))
    for n in range(4):
        cat.add(f"OK{n}", "Summer dress", "blue", category="Dresses")
    summary = pipeline.run_all("r1", cat.now(), settings=settings, use_clip=False)
    assert summary["processed"] == 5 and summary["quarantined"] == 1
    rows = cat.sql("SELECT sku, reason, detail FROM enrichment.quarantine")
    assert [(r[0], r[1]) for r in rows] == [("SLOW", "time_budget")]
    assert "budget" in rows[0][2]
    assert _tags(cat, "SLOW") == set()
    for n in range(4):
        assert ("category", "dress") in _tags(cat, f"OK{n}")
    assert cat.sql("SELECT count(*) FROM enrichment.runs WHERE status = 'committed'") == [(1,)]


@pytest.mark.parametrize("megabytes", [1, 10])
def test_tag_images_gives_an_oversized_row_an_error_and_goes_on(tmp_path, monkeypatch, megabytes):
    monkeypatch.delenv("ENRICHMENT_CLIP_MODEL", raising=False)
    monkeypatch.setenv("ENRICHMENT_DATA_DIR", str(tmp_path / "data"))
    write_image(tmp_path, "red.png", "red")
    src = tmp_path / "in.csv"
    src.write_text(
        "sku,image,title,description\n"
        f'BIG,red.png,Wool hat,"{huge(megabytes)}"\n'
        "NUL,red.png,Wool\x00hat,\n"
        "OK,red.png,Cotton t-shirt,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert main(["tag-images", "--input", str(src), "--output", str(out), "--no-clip"]) == 0
    big, nul, ok = (json.loads(line) for line in out.read_text().splitlines())
    assert big["sku"] == "BIG" and big["tags"] == []
    assert big["error"].startswith("field_too_large: column 'description'")
    assert (
        nul["sku"] == "NUL" and nul["error"] == "invalid_input: column 'title' contains a NUL byte"
    )
    assert ok["error"] is None and ("color", "red") in {
        (t["attribute"], t["value"]) for t in ok["tags"]
    }
