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

from psycopg2.extras import Json, execute_values

from enrichment.config import ConfigError, Settings, load_settings
from enrichment.db import connect, database_url, sqlalchemy_url
from enrichment.quality_config import QualityConfig, load_quality_config
from enrichment.quality_plan import Planner, get_run, metrics
from enrichment.quality_results import (
    CheckResult,
    QualityFailed,
    QualityResult,
    quality_summary_text,
)
from enrichment.taxonomy import Taxonomy

__all__ = [
    "CheckResult",
    "QualityFailed",
    "QualityResult",
    "quality_summary_text",
    "recorded_result",
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
    from enrichment import report as report_mod
    from enrichment import schema
    from enrichment.quality_gx import clear_docs, evaluate

    started = time.monotonic()
    settings = settings or load_settings()
    config = config or load_quality_config()
    url = database_url(settings)
    schema.upgrade(url, settings.state_schema)
    s = settings.state_schema
    taxonomy = Taxonomy.load(getattr(settings, "taxonomy_path", None))
    now = datetime.now(UTC).isoformat()
    with connect(url) as conn, conn.cursor() as cur:
        run = get_run(cur, s, run_id)
        if run is None and run_id:
            raise ConfigError(f"run {run_id!r} does not exist (see python -m enrichment status)")
        if run is None:
            return QualityResult(None, [], now, note="no committed run yet: nothing to check")
        if run["status"] != "committed":
            raise ConfigError(
                f"run {run['run_id']!r} is {run['status']}, not committed; "
                "quality is checked after commit"
            )
        plan = Planner(conn, cur, settings, config, taxonomy, run, url).build()
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
        _record(url, s, result, snapshot=latest)
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


def _record(url: str, s: str, result: QualityResult, *, snapshot: bool) -> None:
    """Store the results; ``snapshot``: also the tag distribution (the state is this run's)."""
    from enrichment.quality_data import record_distribution

    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            f"""INSERT INTO {s}.quality_runs (run_id, checked_at, passed, checks, failed,
                       warnings, seconds, metrics, report, data_docs)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (run_id) DO UPDATE SET checked_at = EXCLUDED.checked_at,
                       passed = EXCLUDED.passed, checks = EXCLUDED.checks,
                       failed = EXCLUDED.failed, warnings = EXCLUDED.warnings,
                       seconds = EXCLUDED.seconds, metrics = EXCLUDED.metrics,
                       report = EXCLUDED.report, data_docs = EXCLUDED.data_docs""",
            (
                result.run_id,
                result.checked_at,
                result.passed,
                len(result.checks),
                len(result.failed),
                len(result.warnings),
                result.seconds,
                Json(result.metrics),
                Json(result.report_data),
                result.data_docs,
            ),
        )
        cur.execute(f"DELETE FROM {s}.quality_results WHERE run_id = %s", (result.run_id,))
        execute_values(
            cur,
            f"""INSERT INTO {s}.quality_results (run_id, check_name, category, severity,
                        outcome, observed, observed_text, threshold_text, detail, position)
                     VALUES %s""",
            [
                (
                    result.run_id,
                    c.name,
                    c.category,
                    c.severity,
                    c.outcome,
                    c.observed,
                    c.observed_text,
                    c.threshold_text,
                    Json(c.detail),
                    n,
                )
                for n, c in enumerate(result.checks)
            ],
        )
        if snapshot:  # an older run re-checked on today's state keeps its own baseline
            record_distribution(cur, s, result.run_id)


def recorded_result(
    run_id: str | None = None, *, settings: Settings | None = None
) -> QualityResult | None:
    """The recorded quality of ``run_id`` (default: the latest checked run), or None.

    Reads what the quality task stored; evaluates nothing (the demo prints it after each
    Airflow run with :func:`quality_summary_text`).
    """
    from enrichment.report import report_dir

    settings = settings or load_settings()
    s = settings.state_schema
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{s}.quality_runs",))
        if cur.fetchone()[0] is None:
            return None
        cur.execute(
            f"""SELECT q.run_id, q.checked_at, q.seconds, q.metrics, q.report, q.data_docs
                  FROM {s}.quality_runs q JOIN {s}.runs r ON r.run_id = q.run_id
                 WHERE %s::text IS NULL OR q.run_id = %s
                 ORDER BY r.committed_at DESC LIMIT 1""",
            (run_id, run_id),
        )
        row = cur.fetchone()
        if row is None:
            return None
        run_id, checked_at, seconds, metrics, data, docs = row
        cur.execute(
            f"""SELECT check_name, category, severity, outcome, observed, observed_text,
                       threshold_text, detail FROM {s}.quality_results
                 WHERE run_id = %s ORDER BY position""",
            (run_id,),
        )
        rows = cur.fetchall()
    descriptions = (data or {}).get("descriptions") or {}
    checks = [
        CheckResult(name, cat, descriptions.get(name, ""), sev, out, obs, text, thr, det or {})
        for name, cat, sev, out, obs, text, thr, det in rows
    ]
    path = report_dir(settings, run_id) / "index.html"
    return QualityResult(
        run_id,
        checks,
        checked_at.isoformat(),
        seconds=float(seconds or 0),
        metrics=metrics or {},
        report_data=data or {},
        data_docs=docs,
        report_path=str(path) if path.exists() else None,
    )
