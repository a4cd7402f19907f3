"""Quality checks on the real embedded PostgreSQL, evaluated by Great Expectations.

A healthy platform state (ten products, two committed runs, a golden sample) is built
once per session through the real pipeline and kept as a template database; each test
gets a copy, breaks one expectation on purpose and asserts the failure and its message.
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager

import pytest

from enrichment.config import ConfigError, load_settings
from enrichment.db import connection as db
from enrichment.db import schema
from enrichment.orchestration import pipeline
from enrichment.quality.evaluate import QualityFailed, run_quality
from tests.catalog_fixture import Catalog

pytestmark = pytest.mark.integration

PRODUCTS = [  # sku, title, colour, catalogue category, truth category
    ("A", "Classic cotton tee", "red", "T-Shirts", "t-shirt"),
    ("B", "Summer dress", "blue", "Dresses", "dress"),
    ("C", "Chino pants", "green", "Pants", "pants"),
    ("D", "Wool hat", "black", "Hats", "hat"),
    ("E", "Canvas tote bag", "yellow", "Bags", "bag"),
    ("F", "Everyday tee", "blue", "T-Shirts", "t-shirt"),
    ("G", "Midi dress", "red", "Dresses", "dress"),
    ("H", "Straight leg pants", "black", "Pants", "pants"),
    ("I", "Baseball cap", "green", "Hats", "hat"),
    ("J", "Crew neck tee", "yellow", "T-Shirts", "t-shirt"),
]
# Tiny catalogue: judge every ratio, and only floors this tagger meets without CLIP.
QUALITY_ENV = {
    "ENRICHMENT_QUALITY_MIN_POPULATION": "1",
    "ENRICHMENT_QUALITY_MIN_SUPPORT": "1",
    "ENRICHMENT_QUALITY_COVERAGE_PATTERN": "0",
    "ENRICHMENT_QUALITY_COVERAGE_MATERIAL": "0",
    "ENRICHMENT_QUALITY_COVERAGE_STYLE": "0",
    "ENRICHMENT_QUALITY_COVERAGE_GENDER": "0",
}


@contextmanager
def _env(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def quality_base(tmp_path_factory):
    """A template database holding a healthy platform state; yields (admin URL, name, env)."""
    tmp = tmp_path_factory.mktemp("quality")
    admin = db.server_url(load_settings())
    name = f"qbase_{uuid.uuid4().hex[:10]}"
    db.ensure_database(admin, name)
    (tmp / "images").mkdir()
    env = {
        "ENRICHMENT_DATABASE_URL": db.with_database(admin, name),
        "ENRICHMENT_SHARD_STORE": str(tmp / "shards"),
        "ENRICHMENT_IMAGE_ROOT": str(tmp / "images"),
        "ENRICHMENT_REPORT_DIR": str(tmp / "reports"),
        **QUALITY_ENV,
    }
    with _env(env):
        settings = load_settings()
        schema.upgrade(env["ENRICHMENT_DATABASE_URL"], settings.state_schema)
        cat = Catalog(settings)
        for sku, title, colour, category, _ in PRODUCTS:
            cat.add(sku, title, colour, category=category)
        for sku, _, colour, _, truth in PRODUCTS:
            cat.sql(
                "INSERT INTO catalog.ground_truth (sku, category, color) VALUES (%s, %s, %s)",
                (sku, truth, colour),
            )
        pipeline.run_all("r1", cat.now(), settings=settings, use_clip=False)
        run_quality("r1", docs=False, report=False)  # the distribution baseline of r2
        pipeline.run_all("r2", cat.now(), settings=settings, use_clip=False)
    yield admin, name, env
    with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class State:
    """A copy of the healthy state, with SQL access to break it."""

    def __init__(self, url: str):
        self.url = url
        self.settings = load_settings()

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with db.connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    def text_index(self) -> str:
        return self.sql(
            "SELECT name FROM enrichment.vector_indexes WHERE kind = 'text' AND state = 'active'"
        )[0][0]

    def quality(self, **kw):
        return run_quality(**{"docs": False, "report": False, **kw})


@pytest.fixture
def state(quality_base, monkeypatch):
    admin, base, env = quality_base
    name = f"q_{uuid.uuid4().hex[:10]}"
    with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
    for key, value in {**env, "ENRICHMENT_DATABASE_URL": db.with_database(admin, name)}.items():
        monkeypatch.setenv(key, value)
    yield State(db.with_database(admin, name))
    with db.connect(admin, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _by_name(result) -> dict:
    return {c.name: c for c in result.checks}


def _failed(result) -> set[str]:
    return {c.name for c in result.failed}


def test_healthy_state_passes_every_check(state):
    result = state.quality()
    assert result.run_id == "r2"
    assert result.passed, result.failure_message()
    checks = _by_name(result)
    assert {c.category for c in result.checks} == {
        "coverage", "consistency", "validity", "freshness", "error_rate", "drift", "accuracy",
    }  # fmt: skip
    assert checks["coverage.any"].observed == 1.0
    assert checks["drift.color"].outcome == "pass" and checks["drift.color"].observed < 0.01
    assert checks["accuracy.category"].outcome == "pass"
    assert checks["freshness.processed"].observed_text.startswith("0 of 10 ")
    recorded = state.sql("SELECT passed, checks FROM enrichment.quality_results q "
                         "JOIN enrichment.quality_runs r USING (run_id) LIMIT 1")  # fmt: skip
    assert recorded and recorded[0][0] is True


def test_dropped_tags_fail_coverage_with_observed_value_and_threshold(state):
    state.sql("DELETE FROM enrichment.tags WHERE sku = 'A'")
    state.sql("DELETE FROM enrichment.tags WHERE sku = 'B' AND attribute = 'color'")
    result = state.quality()
    assert {"coverage.any", "coverage.color"} <= _failed(result)
    message = str(pytest.raises(QualityFailed, result.raise_for_failures).value)
    assert "coverage.any: observed 90.00 % (9 of 10 SKUs), threshold ≥ 98.00 %" in message
    assert "coverage.color: observed 80.00 % (8 of 10 SKUs), threshold ≥ 85.00 %" in message


def test_orphan_vector_fails_consistency_and_store_counts(state):
    table = f"enrichment.vec_{state.text_index()}"
    state.sql(f"INSERT INTO {table} (sku, embedding, model_id, content_hash) "
              f"SELECT 'GHOST-1', embedding, model_id, content_hash FROM {table} LIMIT 1")  # fmt: skip
    result = state.quality()
    assert _failed(result) == {"consistency.orphan_vectors", "consistency.store_counts"}
    checks = _by_name(result)
    assert "GHOST-1" in checks["consistency.orphan_vectors"].observed_text
    assert checks["consistency.orphan_vectors"].observed == 1
    assert "vector store (text)" in checks["consistency.store_counts"].observed_text


def test_missing_and_outdated_vectors_fail_consistency(state):
    table = f"enrichment.vec_{state.text_index()}"
    state.sql(f"DELETE FROM {table} WHERE sku = 'C'")
    state.sql(f"UPDATE {table} SET content_hash = 'old' WHERE sku = 'D'")
    checks = _by_name(state.quality())
    assert checks["consistency.vectors.text"].outcome == "fail"
    assert "(e.g. C)" in checks["consistency.vectors.text"].observed_text
    assert checks["consistency.vectors_current.text"].outcome == "fail"
    assert "(e.g. D)" in checks["consistency.vectors_current.text"].observed_text
    assert checks["consistency.store_counts"].outcome == "fail"  # 9 vectors for 10 SKUs


def test_tags_of_a_deleted_sku_fail_orphan_tags(state):
    # deleted in the source with no trace (no capture saw it): the stores still hold E
    state.sql("DELETE FROM catalog.products WHERE sku = 'E'")
    checks = _by_name(state.quality())
    assert checks["consistency.orphan_tags"].outcome == "fail"
    assert "e.g. E" in checks["consistency.orphan_tags"].observed_text


def test_invalid_tags_fail_each_validity_check(state):
    state.sql("UPDATE enrichment.tags SET confidence = 1.5 "
              "WHERE sku = 'A' AND attribute = 'category'")  # fmt: skip
    state.sql("UPDATE enrichment.tags SET value = 'plaid-ish' "
              "WHERE sku = 'B' AND attribute = 'color'")  # fmt: skip
    state.sql("UPDATE enrichment.tags SET model_id = '' WHERE sku = 'C'")
    state.sql("ALTER TABLE enrichment.tags DROP CONSTRAINT tags_pkey")
    state.sql("INSERT INTO enrichment.tags SELECT * FROM enrichment.tags "
              "WHERE sku = 'D' AND attribute = 'color'")  # fmt: skip
    state.sql("INSERT INTO enrichment.tags (sku, attribute, value, confidence, sources, "
              "taxonomy_version, model_id, content_hash) SELECT sku, attribute, 'bag', 0.5, "
              "sources, taxonomy_version, model_id, content_hash FROM enrichment.tags "
              "WHERE sku = 'F' AND attribute = 'category'")  # fmt: skip
    checks = _by_name(state.quality())
    expected = {"validity.confidence": "A", "validity.taxonomy_values": "B",
                "validity.versions": "C", "validity.unique_tags": "D",
                "validity.single_value": "F"}  # fmt: skip
    for name, sku in expected.items():
        assert checks[name].outcome == "fail", name
        assert sku in checks[name].detail["samples"], checks[name].observed_text
        assert "(e.g. " in checks[name].observed_text


def test_changes_before_the_bound_that_were_not_processed_fail_freshness(state):
    upper = state.sql("SELECT upper_ts FROM enrichment.runs WHERE run_id = 'r2'")[0][0]
    before = "%s::timestamptz - interval '1 second'"
    state.sql(f"UPDATE catalog.products SET title = 'Linen tee', updated_at = {before} "
              "WHERE sku = 'A'", (upper,))  # fmt: skip
    state.sql(f"UPDATE catalog.products SET is_deleted = true, updated_at = {before} "
              "WHERE sku = 'B'", (upper,))  # fmt: skip
    # touched without a real change: still fresh
    state.sql(f"UPDATE catalog.products SET updated_at = {before} WHERE sku = 'C'", (upper,))
    state.sql(  # the application stamps its write (no trigger bumps updated_at any more)
        "UPDATE catalog.products SET title = 'After the bound', "
        "updated_at = clock_timestamp() WHERE sku = 'D'"
    )
    result = state.quality()
    check = _by_name(result)["freshness.processed"]
    assert check.outcome == "fail"
    assert check.observed == 2
    assert check.observed_text.startswith("2 of ")
    assert "e.g. A, B" in check.observed_text
    samples = {s["sku"]: s["change"] for s in result.report_data["freshness"]["samples"]}
    assert samples == {"A": "text_changed", "B": "deleted"}


def test_injected_quarantines_fail_the_error_rate(state):
    state.sql("INSERT INTO enrichment.quarantine (sku, image_ref, reason) "
              "VALUES ('A', 'a.png', 'decode_error'), ('B', 'b.png', 'too_large')")  # fmt: skip
    result = state.quality()
    check = _by_name(result)["error_rate.quarantine"]
    assert check.outcome == "fail"
    assert check.observed_text == "20.00 % (2 of 10 images)" and check.threshold_text == "≤ 0.50 %"
    reasons = {q["reason"]: q["samples"] for q in result.report_data["quarantine"]}
    assert reasons == {"decode_error": ["A"], "too_large": ["B"]}


def test_shifted_distribution_fails_drift_against_the_previous_run(state):
    state.sql("UPDATE enrichment.tags SET value = 'red' WHERE attribute = 'color'")
    result = state.quality()
    check = _by_name(result)["drift.color"]
    assert check.outcome == "fail" and check.observed > 0.25
    assert check.threshold_text == "≤ 0.2500"
    assert _by_name(result)["drift.category"].outcome == "pass"


def test_drift_can_be_a_warning_only(state, monkeypatch):
    monkeypatch.setenv("ENRICHMENT_QUALITY_DRIFT_SEVERITY", "warning")
    state.sql("UPDATE enrichment.tags SET value = 'red' WHERE attribute = 'color' "
              "AND sku IN ('B', 'C', 'D', 'E', 'F')")  # fmt: skip
    result = state.quality()
    assert _by_name(result)["drift.color"].outcome == "warn"
    assert "drift.color" not in _failed(result)


def test_wrong_golden_labels_fail_accuracy(state):
    state.sql("UPDATE catalog.ground_truth SET color = 'purple' WHERE sku IN ('A', 'B')")
    check = _by_name(state.quality())["accuracy.color"]
    assert check.outcome == "fail"
    assert check.observed_text == "80.00 % (8 of 10 tags)" and check.threshold_text == "≥ 92.00 %"


def test_golden_sample_from_csv(state, monkeypatch, tmp_path):
    golden = tmp_path / "golden.csv"
    golden.write_text("sku,attribute,value\nA,category,dress\nB,category,dress\n"
                      "C,category,pants\n")  # fmt: skip
    monkeypatch.setenv("ENRICHMENT_QUALITY_GOLDEN", str(golden))
    result = state.quality()
    check = _by_name(result)["accuracy.category"]
    assert check.outcome == "fail" and check.observed_text.startswith("66.67 % (2 of 3 tags)")
    assert "accuracy.color" not in _by_name(result)
    golden.write_text("sku,attribute,value\nA,fabric,cotton\n")
    with pytest.raises(ConfigError, match="ENRICHMENT_QUALITY_GOLDEN"):
        state.quality()


def test_small_catalogues_report_rates_without_judging_them(state, monkeypatch):
    monkeypatch.setenv("ENRICHMENT_QUALITY_MIN_POPULATION", "20")
    state.sql("DELETE FROM enrichment.tags WHERE sku IN ('A', 'B', 'C')")
    result = state.quality()
    checks = _by_name(result)
    assert checks["coverage.any"].outcome == "skipped"
    assert checks["coverage.any"].observed_text == "70.00 % (only 10 SKUs (< 20), not judged)"
    assert "coverage.any" not in _failed(result)


def test_cli_prints_every_check_as_json_and_exits_1_on_failure(state, capsys):
    from enrichment.cli.main import main

    assert main(["quality", "--json", "--no-docs", "--no-report"]) == 0
    healthy = json.loads(capsys.readouterr().out)
    assert healthy["passed"] is True and healthy["failed"] == 0
    state.sql("DELETE FROM enrichment.tags WHERE sku = 'A'")
    assert main(["quality", "--json", "--no-docs", "--no-report"]) == 1
    out = json.loads(capsys.readouterr().out)
    check = next(c for c in out["checks"] if c["name"] == "coverage.any")
    assert (check["outcome"], check["observed"], check["threshold"]) == ("fail", 0.9, 0.98)
    assert check["observed_text"] == "90.00 % (9 of 10 SKUs)"


def _calibration(tmp_path, golden_rows):
    from enrichment.tagging.calibration_types import (
        AttributeCalibration,
        Calibration,
        Estimate,
        save_calibration,
        save_golden,
    )
    from enrichment.tagging.taxonomy import Taxonomy

    colour = AttributeCalibration(
        "color", "fusion", 0.5, precision=Estimate.of(95, 100), coverage=Estimate.of(90, 100),
        n=100,
    )  # fmt: skip
    cal = Calibration(Taxonomy.load().version, 0.92, None, {"color": colour})
    save_calibration(cal, tmp_path / "cal")
    save_golden(tmp_path / "cal", golden_rows)
    return cal


def test_without_calibration_the_report_says_so(state):
    result = state.quality()
    assert result.report_data["calibration"]["id"] is None
    assert any("No calibration configured" in n for n in result.report_data["notes"])


def test_calibration_sets_floors_and_a_drop_beyond_the_interval_fails(state, monkeypatch, tmp_path):
    cal = _calibration(tmp_path, [("A", "color", "purple"), ("B", "color", "purple")])
    monkeypatch.setenv("ENRICHMENT_CALIBRATION", str(tmp_path / "cal"))
    result = state.quality()
    checks = _by_name(result)
    low = cal.attributes["color"].coverage.low
    assert checks["coverage.color"].threshold == pytest.approx(low) and low < 0.9
    assert checks["accuracy.color"].threshold == pytest.approx(
        cal.attributes["color"].precision.low
    )
    assert result.report_data["calibration"]["id"] == cal.id
    assert result.passed, result.failure_message()  # within the intervals
    state.sql("DELETE FROM enrichment.tags WHERE sku IN ('A', 'B') AND attribute = 'color'")
    result = state.quality()
    assert "coverage.color" in _failed(result)  # 80 % < the interval's lower end
    assert "coverage.color" in result.failure_message()


def test_calibration_sample_is_the_golden_sample_without_a_ground_truth(
    state, monkeypatch, tmp_path
):
    _calibration(tmp_path, [("A", "color", "purple"), ("B", "color", "blue")])
    monkeypatch.setenv("ENRICHMENT_CALIBRATION", str(tmp_path / "cal"))
    monkeypatch.setenv("ENRICHMENT_QUALITY_GOLDEN", "auto")
    state.sql("DROP TABLE catalog.ground_truth")
    check = _by_name(state.quality())["accuracy.color"]
    assert check.outcome == "fail" and check.observed_text.startswith("50.00 % (1 of 2 tags)")
