"""Data quality of a run: plan the checks, let Great Expectations judge them, record, report.

``run_quality(run_id)`` evaluates every check on the platform's current state for a
committed run (default: the latest), builds the run's GX Data Docs and its analysts'
report, and records the results (``quality_runs``, ``quality_results``) and the tag
distribution that the next run's drift check compares with. It never raises because a
check failed; :meth:`QualityResult.raise_for_failures` does, with a message that lists
each failed check with its observed value and threshold.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from enrichment.config import ConfigError, Settings, load_settings
from enrichment.db.connection import connect, database_url, sqlalchemy_url
from enrichment.quality.calibrated import calibrated_config, configured_calibration
from enrichment.quality.plan import Planner, get_run, metrics
from enrichment.quality.records import record_result
from enrichment.quality.results import (
    CheckResult,
    QualityFailed,
    QualityResult,
    quality_summary_text,
)
from enrichment.quality.thresholds import QualityConfig, load_quality_config
from enrichment.tagging.taxonomy import Taxonomy

__all__ = [
    "CheckResult",
    "QualityFailed",
    "QualityResult",
    "quality_summary_text",
    "run_quality",
]

log = logging.getLogger(__name__)


def run_quality(
    run_id: str | None = None,
    *,
    settings: Settings | None = None,
    config: QualityConfig | None = None,
    docs: bool = True,
    report: bool = True,
    record: bool = True,
) -> QualityResult:
    """Evaluate every check for ``run_id`` (default: the latest committed run)."""
    from enrichment.db import schema
    from enrichment.quality.gx import clear_docs, evaluate
    from enrichment.quality.report import pages as report_mod

    started = time.monotonic()
    settings = settings or load_settings()
    config = config or load_quality_config()
    config, calibration = calibrated_config(config, configured_calibration(settings))
    url = database_url(settings)
    schema.upgrade(url, settings.state_schema)
    s = settings.state_schema
    taxonomy = Taxonomy.load(getattr(settings, "taxonomy_path", None))
    now = datetime.now(UTC).isoformat()
    with connect(url) as conn, conn.cursor() as cur:
        run = _checked_run(cur, s, run_id)
        if run is None:
            return QualityResult(None, [], now, note="no committed run yet: nothing to check")
        plan = Planner(conn, cur, settings, config, taxonomy, run, url, calibration).build()
        latest = get_run(cur, s, None)["run_id"] == run["run_id"]
    run_id = run["run_id"]
    docs_dir = report_mod.report_dir(settings, run_id) / "data_docs" if docs else None
    if docs_dir is not None:
        clear_docs(docs_dir)
    raw = evaluate(plan.assets, sqlalchemy_url(url), run_name=run_id, docs_dir=docs_dir)
    checks = plan.results(raw)
    result = QualityResult(
        run_id,
        checks,
        now,
        data_docs=str(docs_dir / "index.html") if docs_dir else None,
        report_data=plan.report,
    )
    result.metrics = metrics(result, plan, run)
    result.seconds = round(time.monotonic() - started, 2)
    if record:
        record_result(url, s, result, snapshot=latest)
    if report:
        result.report_path = str(report_mod.write_report(result, settings=settings))
    log.info(
        "quality of run %s: %s (%d checks, %d failed, %d warnings) in %.1fs",
        run_id,
        "passed" if result.passed else "FAILED",
        len(checks),
        len(result.failed),
        len(result.warnings),
        result.seconds,
    )
    return result


def _checked_run(cur, s: str, run_id: str | None) -> dict | None:
    """The run to check: ``run_id`` or the latest committed one (None: no run yet)."""
    run = get_run(cur, s, run_id)
    if run is None and run_id:
        raise ConfigError(f"run {run_id!r} does not exist (see python -m enrichment status)")
    if run is not None and run["status"] != "committed":
        raise ConfigError(
            f"run {run['run_id']!r} is {run['status']}, not committed; "
            "quality is checked after commit"
        )
    return run
