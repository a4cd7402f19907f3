"""The analysts' report: written per run with its Data Docs, shown by a real browser, and
served by the Airflow UI plugin."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from enrichment.orchestration import pipeline
from enrichment.quality.evaluate import run_quality
from enrichment.quality.report.pages import report_dir, reports_root
from tests.integration.quality.test_evaluate import quality_base, state  # noqa: F401 (fixtures)
from tests.paths import ROOT

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DAG_RUN = ("catalog_incremental", "manual__2026-02-01T00:00:00+00:00")


@pytest.fixture
def broken_report(state):  # noqa: F811 (the imported fixture)
    """A run whose coverage check fails, checked with Data Docs and report."""
    state.sql("DELETE FROM enrichment.tags WHERE sku = 'A'")
    state.sql("INSERT INTO enrichment.quarantine (sku, image_ref, reason, detail) "
              "VALUES ('B', 'b.png', 'decode_error', 'truncated JPEG')")  # fmt: skip
    run_id = pipeline.platform_run_id(*DAG_RUN)
    upper = state.sql("SELECT clock_timestamp()")[0][0]
    pipeline.run_all(run_id, upper, settings=state.settings, use_clip=False)
    result = run_quality(run_id)
    return result


def test_report_and_data_docs_are_written_per_run(broken_report):
    folder = report_dir(None, broken_report.run_id)
    assert broken_report.report_path == str(folder / "index.html")
    assert (folder / "data_docs" / "index.html").is_file()
    assert list((folder / "data_docs" / "validations").rglob("*.html"))
    # GX Data Docs need CDN scripts and styles: the offline report does not link them
    assert 'href="data_docs/' not in Path(broken_report.report_path).read_text()
    data = json.loads((folder / "report.json").read_text())
    assert data["passed"] is False
    assert {c["name"] for c in data["checks"] if c["outcome"] == "fail"} >= {"coverage.any"}
    index = (reports_root() / "index.html").read_text()
    assert broken_report.run_id in index and f"{folder.name}/index.html" in index
    assert f"../{folder.name}/index.html" in (reports_root() / "latest" / "index.html").read_text()


def test_report_makes_no_external_request(broken_report):
    html = Path(broken_report.report_path).read_text()
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_headless_chromium_shows_the_numbers(broken_report, tmp_path):
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]  # fmt: skip
    url = Path(broken_report.report_path).as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout  # fmt: skip
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    assert "Catalogue quality report FAILED" in text
    assert "coverage.any" in text and "90.00 % (9 of 10 SKUs)" in text and "≥ 98.00 %" in text
    assert "Active products" in text and re.search(r"\b10 Active products", text)
    assert "decode_error 1 B truncated JPEG" in text  # quarantine reason with a sample SKU
    assert dom.count("<svg") >= 10  # distributions, confidence histograms, trend charts
    shot = tmp_path / "report.png"
    subprocess.run([*flags, "--hide-scrollbars", "--window-size=1300,2400",
                    f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)  # fmt: skip
    assert shot.stat().st_size > 50_000


def _plugin_app():
    path = ROOT / "plugins" / "enrichment_airflow" / "report_plugin.py"
    spec = importlib.util.spec_from_file_location("catalog_quality_report_plugin", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plugin_serves_reports_to_signed_in_users_only(broken_report):
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    module = _plugin_app()
    views = {v["destination"]: v for v in module.CatalogQualityPlugin.external_views}
    assert views["dag_run"]["href"] == "/catalog-quality/dag-runs/{DAG_ID}/{RUN_ID}"
    app = module.build_app()
    assert TestClient(app).get("/").status_code == 401
    app.dependency_overrides[get_user] = lambda: object()
    client = TestClient(app, follow_redirects=False)
    assert "Catalogue quality reports" in client.get("/").text
    moved = client.get(f"/dag-runs/{DAG_RUN[0]}/{DAG_RUN[1]}")
    assert moved.status_code == 307
    target = moved.headers["location"]
    assert target == f"../../{report_dir(None, broken_report.run_id).name}/index.html"
    page = client.get("/" + target.removeprefix("../../"))
    assert "coverage.any" in page.text and "FAILED" in page.text
    assert client.get("/dag-runs/catalog_incremental/unknown").status_code == 404
    assert client.get("/%2e%2e/%2e%2e/etc/passwd").status_code == 404


def test_without_a_golden_sample_accuracy_is_reported_not_applicable(state, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ENRICHMENT_QUALITY_GOLDEN", "none")
    run_id = pipeline.platform_run_id(*DAG_RUN)
    upper = state.sql("SELECT clock_timestamp()")[0][0]
    pipeline.run_all(run_id, upper, settings=state.settings, use_clip=False)
    result = run_quality(run_id)
    accuracy = [c for c in result.checks if c.category == "accuracy"]
    assert [(c.name, c.outcome) for c in accuracy] == [("accuracy", "skipped")]
    assert "no golden sample configured" in Path(result.report_path).read_text()
