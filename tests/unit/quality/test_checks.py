"""The check specifications: one per attribute and category, thresholds from the config."""

from __future__ import annotations

import pytest

from enrichment.quality import checks as qc
from enrichment.quality.thresholds import load_quality_config
from enrichment.tagging.taxonomy import Taxonomy

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load()


def test_coverage_has_an_any_check_and_one_per_attribute_with_its_floor(taxonomy):
    cfg = load_quality_config({"ENRICHMENT_QUALITY_COVERAGE_COLOR": "0.7"})
    specs = {s.name: s for s in qc.coverage_checks(cfg, taxonomy)}
    assert set(specs) == {"coverage.any"} | {f"coverage.{a.id}" for a in taxonomy.attributes}
    assert specs["coverage.any"].threshold == cfg.coverage_any
    color = specs["coverage.color"]
    assert color.threshold == 0.7 and color.gx_kwargs == {"column": "tagged", "min_value": 0.7}
    assert color.where == ("attribute", "==", "color") and color.kind == "min_ratio"
    assert all(s.category == "coverage" for s in specs.values())


def test_drift_and_accuracy_checks_follow_the_config(taxonomy):
    cfg = load_quality_config(
        {"ENRICHMENT_QUALITY_DRIFT_SEVERITY": "warning", "ENRICHMENT_QUALITY_MAX_PSI": "0.4"}
    )
    drift = qc.drift_checks(cfg, ["pattern", "color"])
    assert [s.name for s in drift] == ["drift.color", "drift.pattern"]  # sorted
    assert {s.severity for s in drift} == {"warning"} and {s.threshold for s in drift} == {0.4}
    accuracy = qc.accuracy_checks(cfg, ["category"])
    assert accuracy[0].threshold == cfg.precision_threshold("category")
    assert accuracy[0].unit == "tags"


def test_every_check_has_a_known_category_and_a_unique_name(taxonomy):
    cfg = load_quality_config({})
    specs = (
        qc.coverage_checks(cfg, taxonomy)
        + qc.vector_checks(["text", "image"])
        + qc.orphan_checks()
        + qc.store_count_checks()
        + qc.validity_checks(taxonomy)
        + qc.provenance_checks()
        + qc.freshness_checks()
        + qc.error_rate_checks(cfg)
        + qc.drift_checks(cfg, ["color"])
        + qc.accuracy_checks(cfg, ["color"])
    )
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert {s.category for s in specs} == set(qc.CATEGORIES)
    assert all(s.description and s.gx_type.startswith("Expect") for s in specs)
    assert {s.name for s in qc.vector_checks(["text"])} >= {"consistency.vectors.text"}


def test_pct_formats_a_ratio_as_a_percentage():
    assert qc.pct(0.98765) == "98.77 %" and qc.pct(0) == "0.00 %"
