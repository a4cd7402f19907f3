"""Quality thresholds: bundled defaults, override file, environment; errors name the setting.
Report helpers: folder names for run ids, escaped SVG labels."""

from __future__ import annotations

import pytest

from enrichment.config import ConfigError
from enrichment.quality.report.pages import report_dir_name
from enrichment.quality.report.svg import hbars, trend
from enrichment.quality.thresholds import load_quality_config

pytestmark = pytest.mark.unit


def test_defaults_come_from_the_bundled_file():
    cfg = load_quality_config({})
    assert cfg.coverage_any == 0.98 and cfg.coverage_threshold("category") == 0.98
    assert cfg.coverage_threshold("style") == 0.12  # a per-attribute floor in quality.yaml
    assert (cfg.max_quarantined, cfg.max_psi, cfg.precision_threshold("color")) == (
        0.005,
        0.25,
        0.92,
    )
    assert cfg.golden == "auto" and cfg.drift_severity == "error"


def test_override_file_then_variables_win(tmp_path):
    override = tmp_path / "q.yaml"
    override.write_text("coverage:\n  default: 0.9\n  attributes: {color: 0.7}\n"
                        "drift: {max_psi: 0.5}\n")  # fmt: skip
    cfg = load_quality_config({
        "ENRICHMENT_QUALITY_CONFIG": str(override),
        "ENRICHMENT_QUALITY_MAX_PSI": "0.1",
        "ENRICHMENT_QUALITY_COVERAGE_COLOR": "0.6",
        "ENRICHMENT_QUALITY_PRECISION_CATEGORY": "0.99",
        "ENRICHMENT_QUALITY_DRIFT_SEVERITY": "Warning",
    })  # fmt: skip
    assert cfg.coverage_threshold("pattern") == 0.30  # bundled per-attribute entry kept
    assert cfg.coverage_threshold("category") == 0.9
    assert cfg.coverage_threshold("color") == 0.6
    assert cfg.max_psi == 0.1
    assert cfg.precision_threshold("category") == 0.99
    assert cfg.precision_threshold("color") == 0.92
    assert cfg.drift_severity == "warning"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"ENRICHMENT_QUALITY_COVERAGE_ANY": "1.5"}, "ENRICHMENT_QUALITY_COVERAGE_ANY"),
        ({"ENRICHMENT_QUALITY_MAX_QUARANTINED": "lots"}, "ENRICHMENT_QUALITY_MAX_QUARANTINED"),
        ({"ENRICHMENT_QUALITY_COVERAGE_STYLE": "-1"}, "ENRICHMENT_QUALITY_COVERAGE_STYLE"),
        ({"ENRICHMENT_QUALITY_DRIFT_SEVERITY": "loud"}, "ENRICHMENT_QUALITY_DRIFT_SEVERITY"),
        ({"ENRICHMENT_QUALITY_MIN_SUPORT": "3"}, "ENRICHMENT_QUALITY_MIN_SUPORT"),
        ({"ENRICHMENT_QUALITY_CONFIG": "/nonexistent/q.yaml"}, "ENRICHMENT_QUALITY_CONFIG"),
    ],
)
def test_bad_values_name_the_setting_to_fix(env, setting):
    with pytest.raises(ConfigError, match=setting):
        load_quality_config(env)


def test_report_folder_names_are_safe_and_distinct():
    assert report_dir_name("r1") == "r1"
    a = report_dir_name("catalog_incremental__manual__2026-01-01T00:00:00+00:00")
    b = report_dir_name("catalog_incremental__manual__2026-01-01T00_00_00_00_00")
    assert a != b and "/" not in a and ":" not in a and "+" not in a
    assert report_dir_name("../../etc") not in ("..", ".") and "/" not in report_dir_name("a/b")


def test_svg_labels_are_escaped():
    svg = hbars([("<script>", 0.5, "1 & 2")], title="x<y")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "1 &amp; 2" in svg
    assert "no data yet" in trend([("r1", None)], title="t")
