"""The check plan of a run: which checks apply, what is skipped and why, the report data."""

from __future__ import annotations

import pytest

from enrichment.db import connection as db
from enrichment.quality import plan as qp
from enrichment.quality.thresholds import load_quality_config
from enrichment.tagging.taxonomy import Taxonomy
from tests.integration.quality.test_evaluate import quality_base, state  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def _plan(state, run_id: str | None, environ: dict | None = None):  # noqa: F811
    with db.connect(state.url) as conn, conn.cursor() as cur:
        run = qp.get_run(cur, "enrichment", run_id)
        cfg = load_quality_config(environ or {"ENRICHMENT_QUALITY_MIN_POPULATION": "1"})
        planner = qp.Planner(conn, cur, state.settings, cfg, Taxonomy.load(), run, state.url)
        return run, planner.build()


def test_the_latest_committed_run_gets_every_category_planned(state):  # noqa: F811
    run, plan = _plan(state, None)
    assert run["run_id"] == "r2" and run["status"] == "committed"
    categories = {spec.category for _, spec, _ in plan.order}
    assert categories == {
        "coverage", "consistency", "validity", "freshness", "error_rate", "drift", "accuracy",
    }  # fmt: skip
    assert {a.name for a in plan.assets} >= {"coverage", "vectors", "tags", "freshness"}
    assert plan.report["active_skus"] == 10 and plan.report["run"]["run_id"] == "r2"
    assert plan.counts["freshness.processed"] == {"total": 10}
    assert set(plan.report["descriptions"]) == {spec.name for _, spec, _ in plan.order}


def test_small_populations_are_skipped_with_the_reason(state):  # noqa: F811
    _, plan = _plan(state, "r2", {"ENRICHMENT_QUALITY_MIN_POPULATION": "50"})
    fixed = {spec.name: result for _, spec, result in plan.order if result is not None}
    assert fixed["coverage.any"].outcome == "skipped"
    assert "only 10 SKUs (< 50), not judged" in fixed["coverage.any"].observed_text


def test_an_unknown_run_is_none(state):  # noqa: F811
    with db.connect(state.url) as conn, conn.cursor() as cur:
        assert qp.get_run(cur, "enrichment", "no-such-run") is None


def test_a_catalogue_larger_than_the_source_sample_is_judged_on_a_sample(state):  # noqa: F811
    environ = {"ENRICHMENT_QUALITY_MIN_POPULATION": "1", "ENRICHMENT_QUALITY_SOURCE_SAMPLE": "2"}
    _, plan = _plan(state, "r2", environ)
    sample = plan.report["source_sample"]
    assert sample["documents"] == 10 and sample["sample"] == 2
    assert plan.counts["freshness.processed"]["total"] == sample["judged"] < 10
    assert any("random sample of 2" in note for note in plan.report["notes"])
    assert plan.report["freshness"]["source_sample"] == sample
    _, whole = _plan(state, "r2")
    assert whole.report["source_sample"] is None
    assert whole.counts["freshness.processed"] == {"total": 10}
