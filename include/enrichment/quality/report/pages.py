"""The analysts' report: one self-contained HTML page per checked run, and an index.

Written to ``<reports>/<run>/index.html`` (``<reports>`` is ``ENRICHMENT_REPORT_DIR``,
default ``$ENRICHMENT_DATA_DIR/reports``) next to the run's ``report.json`` and its GX
Data Docs (``data_docs/``); ``<reports>/index.html`` lists every run and
``<reports>/latest/`` forwards to the newest. The Airflow plugin serves this folder; it
can also be zipped and shared as it is. A report is rendered from what the quality run
recorded, so re-rendering an old run shows that run's numbers.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.quality.records import recorded_result
from enrichment.quality.report.paths import report_dir, report_dir_name, reports_root
from enrichment.quality.report.view import context, pct

__all__ = ["render_stored", "report_dir", "reports_root", "write_index", "write_report"]


def _trend_rows(cur, s: str, run_id: str, limit: int) -> list[dict]:
    cur.execute(
        f"""SELECT q.run_id, r.committed_at, q.metrics, r.summary FROM {s}.quality_runs q
              JOIN {s}.runs r ON r.run_id = q.run_id
             WHERE r.committed_at <= (SELECT committed_at FROM {s}.runs WHERE run_id = %s)
             ORDER BY r.committed_at DESC LIMIT %s""",
        (run_id, limit),
    )
    return [
        {"run_id": r, "committed_at": c.isoformat(), "metrics": m, "noop": _noop(summary)}
        for r, c, m, summary in reversed(cur.fetchall())
    ]


@functools.cache
def _templates():
    """The report's Jinja2 templates (``templates/*.html.j2`` and ``style.css`` in the
    package): self-contained HTML, inline CSS and SVG, no script, no external request."""
    from jinja2 import Environment, PackageLoader

    return Environment(
        loader=PackageLoader("enrichment.quality.report", "templates"), autoescape=True
    )


def _noop(summary: dict | None) -> bool:
    """A committed run that processed nothing (its window held no change)."""
    return bool(summary) and not summary.get("processed")


def render(template: str, view: dict) -> str:
    """Render ``templates/<template>`` with ``view`` and the shared stylesheet."""
    env = _templates()
    style = env.loader.get_source(env, "style.css")[0]
    return env.get_template(template).render(style=style, **view)


def write_report(result, *, settings: Settings | None = None) -> Path:
    """Write the report of a :class:`~enrichment.quality.evaluate.QualityResult`; returns its path."""
    from dataclasses import asdict

    from enrichment.quality.thresholds import load_quality_config

    settings = settings or load_settings()
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        trend = _trend_rows(
            cur, settings.state_schema, result.run_id, load_quality_config().trend_runs
        )
    if not any(t["run_id"] == result.run_id for t in trend):
        trend.append(
            {"run_id": result.run_id, "committed_at": result.checked_at, "metrics": result.metrics}
        )
    checks = [asdict(c) for c in result.checks]
    return _write(
        settings,
        result.run_id,
        result.report_data,
        checks,
        result.metrics,
        trend,
        result.checked_at,
        result.data_docs,
    )


def _write(
    settings: Settings,
    run_id: str,
    data: dict,
    checks: list[dict],
    metrics: dict,
    trend: list[dict],
    checked_at: str,
    data_docs: str | None,
) -> Path:
    folder = report_dir(settings, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    # GX Data Docs (written to data_docs/) load their scripts and styles from CDNs and do
    # not render offline, so the self-contained report does not link them
    del data_docs
    view = context(
        data.get("run") or {"run_id": run_id},
        checks,
        metrics,
        data,
        trend,
        checked_at=checked_at,
        data_docs=None,
    )
    path = folder / "index.html"
    path.write_text(render("report.html.j2", view), encoding="utf-8")
    (folder / "report.json").write_text(
        json.dumps(
            {
                "run_id": run_id,
                "checked_at": checked_at,
                "passed": view["passed"],
                "checks": checks,
                "metrics": metrics,
                "data": data,
                "trend": trend,
            },
            indent=1,
            default=str,
        ),
        encoding="utf-8",
    )
    write_index(settings)
    return path


def render_stored(run_id: str | None = None, *, settings: Settings | None = None) -> Path:
    """Re-render a recorded run's report (default: the latest checked run)."""
    from enrichment.config import ConfigError

    settings = settings or load_settings()
    result = recorded_result(run_id, settings=settings)
    if result is None:
        raise ConfigError(
            f"no quality results recorded for run {run_id!r}; run python -m enrichment quality"
            if run_id
            else "no quality results recorded yet; run python -m enrichment quality"
        )
    return write_report(result, settings=settings)


def index_rows(settings: Settings | None = None) -> list[dict]:
    """Every checked run, newest first, with its verdict and key numbers."""
    settings = settings or load_settings()
    s = settings.state_schema
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{s}.quality_runs",))
        if cur.fetchone()[0] is None:
            return []
        cur.execute(f"""SELECT q.run_id, r.committed_at, q.passed, q.failed, q.metrics,
                               r.summary, q.checked_at
                          FROM {s}.quality_runs q JOIN {s}.runs r ON r.run_id = q.run_id
                         ORDER BY r.committed_at DESC""")
        rows = cur.fetchall()
    return [
        {
            "run_id": r,
            "href": f"{report_dir_name(r)}/index.html",
            "committed_at": c.isoformat(timespec="seconds"),
            "checked_at": checked.isoformat(timespec="seconds"),
            "passed": p,
            "failed": f,
            "active": f"{(m or {}).get('active_skus') or 0:,}",
            "coverage": pct((m or {}).get("coverage_any")),
            "quarantine": pct((m or {}).get("quarantine_rate"), 2),
            "noop": _noop(summary),
        }
        for r, c, p, f, m, summary, checked in rows
    ]


def write_index(settings: Settings | None = None) -> Path:
    """(Re)write ``<reports>/index.html`` and ``<reports>/latest/index.html``."""
    root = reports_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    runs = index_rows(settings)
    (root / "index.html").write_text(render("index.html.j2", {"runs": runs}), encoding="utf-8")
    if runs:
        (root / "latest").mkdir(exist_ok=True)
        (root / "latest" / "index.html").write_text(
            render(
                "latest.html.j2", {"href": "../" + runs[0]["href"], "run_id": runs[0]["run_id"]}
            ),
            encoding="utf-8",
        )
    return root / "index.html"
