"""Recorded quality results: store one evaluation, read a recorded one back."""

from __future__ import annotations

from psycopg2.extras import Json, execute_values

from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.quality.data import record_distribution
from enrichment.quality.report.paths import report_dir
from enrichment.quality.results import CheckResult, QualityResult


def record_result(url: str, s: str, result: QualityResult, *, snapshot: bool) -> None:
    """Store the results; ``snapshot``: also the tag distribution (the state is this run's)."""
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
