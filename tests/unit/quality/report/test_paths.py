"""Report folders: one per run under the configured root, safe names for any run id."""

from __future__ import annotations

import pytest

from enrichment.config import load_settings
from enrichment.quality.report import paths

pytestmark = pytest.mark.unit


def test_plain_run_ids_are_their_own_folder_and_others_are_slugged_uniquely():
    assert paths.report_dir_name("r2") == "r2"
    a = paths.report_dir_name("manual__2026-02-01T00:00:00+00:00")
    b = paths.report_dir_name("manual__2026-02-01T00_00_00_00_00")
    assert a.startswith("manual__2026-02-01T00_00_00_00_00-") and a != b
    assert "/" not in paths.report_dir_name("../../etc") and paths.report_dir_name("..") != ".."


def test_the_root_follows_the_setting_or_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("ENRICHMENT_REPORT_DIR", raising=False)
    settings = load_settings()
    assert paths.reports_root(settings) == settings.data_dir / "reports"
    monkeypatch.setenv("ENRICHMENT_REPORT_DIR", str(tmp_path / "out"))
    assert paths.report_dir(settings, "r1") == (tmp_path / "out" / "r1").resolve()
