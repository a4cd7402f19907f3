"""``cdc check / remove / install`` and ``reconcile`` from the command line."""

from __future__ import annotations

import json

import pytest

from enrichment.cli.main import main
from enrichment.orchestration import pipeline
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration


@pytest.fixture
def catalog(platform_db):
    cat = Catalog(platform_db)  # installs the managed triggers of the demo mapping
    cat.add("A", "Classic tee", "red")
    cat.add("B", "Summer dress", "blue", category="Dresses")
    return cat


def _cli(capsys, *args: str) -> tuple[int, dict | str]:
    code = main(list(args))
    out = capsys.readouterr().out
    try:
        return code, json.loads(out)
    except json.JSONDecodeError:
        return code, out


def test_check_reports_installed_triggers_and_remove_takes_them_away(catalog, capsys):
    code, out = _cli(capsys, "cdc", "check")
    assert code == 0 and out["ok"] is True
    assert out["tables"] == {"catalog.products": "installed", "catalog.product_images": "installed"}
    assert "image_versions" in out["document_columns"]
    code, _ = _cli(capsys, "cdc", "remove")
    code, out = _cli(capsys, "cdc", "check")
    assert code == 1 and out["tables"]["catalog.products"] == "missing"


def test_reconcile_removes_what_a_delete_without_capture_left_behind(catalog, capsys):
    pipeline.run_all("r1", catalog.now(), settings=catalog.settings, use_clip=False)
    _cli(capsys, "cdc", "remove")
    catalog.hard_delete("B")  # nothing records it
    code, out = _cli(capsys, "reconcile", "--json")
    assert code == 0
    assert out["changes"] == {"deleted": 1} and out["deleted"] == 1
    assert catalog.sql("SELECT count(*) FROM enrichment.tags WHERE sku = 'B'") == [(0,)]
    assert catalog.sql("SELECT count(*) > 0 FROM enrichment.tags WHERE sku = 'A'") == [(True,)]
