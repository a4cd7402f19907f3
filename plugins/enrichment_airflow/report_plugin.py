"""Airflow 3 UI plugin: the analysts' quality reports inside the Airflow UI.

A FastAPI app mounted at ``/catalog-quality`` serves the reports folder
(``ENRICHMENT_REPORT_DIR``, default ``$ENRICHMENT_DATA_DIR/reports``) to signed-in
Airflow users. Two external views embed it in the UI: **Catalog quality** in the
*Browse* menu (every run's report) and **Quality report** on each DAG run (that run's
report; the platform's run id is ``<dag_id>__<run_id>``).
"""

from __future__ import annotations

from pathlib import Path

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/catalog-quality"


def _reports_root() -> Path:
    from enrichment.quality.report.pages import reports_root

    return reports_root().resolve()


def _page(title: str, text: str, status: int = 200):
    from html import escape

    from fastapi.responses import HTMLResponse

    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "</head><body style='font-family:system-ui,sans-serif;padding:24px'>"
        f"<h2>{escape(title)}</h2><p>{escape(text)}</p>"
        "<p><a href='../../'>All quality reports</a></p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def build_app():
    """The FastAPI app; every route needs a signed-in Airflow user."""
    from airflow.api_fastapi.core_api.security import requires_authenticated
    from fastapi import Depends, FastAPI
    from fastapi.responses import FileResponse, RedirectResponse

    app = FastAPI(title="Catalog quality reports", dependencies=[Depends(requires_authenticated())])

    @app.get("/dag-runs/{dag_id}/{run_id}")
    def dag_run_report(dag_id: str, run_id: str):
        from enrichment.orchestration.pipeline import platform_run_id
        from enrichment.quality.report.pages import report_dir_name

        folder = report_dir_name(platform_run_id(dag_id, run_id))
        if not (_reports_root() / folder / "index.html").is_file():
            return _page(
                "No quality report for this run yet",
                f"The quality task writes it after the run commits ({dag_id}, {run_id}).",
                status=404,
            )
        return RedirectResponse(f"../../{folder}/index.html", status_code=307)

    @app.get("/")
    def index():
        root = _reports_root()
        if not (root / "index.html").is_file():
            try:
                from enrichment.quality.report.pages import write_index

                write_index()
            except Exception as exc:  # the platform database may not be reachable
                return _page(
                    "No quality reports yet",
                    f"Reports appear after the quality task of a run ({type(exc).__name__}).",
                )
        return FileResponse(root / "index.html")

    @app.get("/{path:path}")
    def report_file(path: str):
        root = _reports_root()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            return _page("Not found", path, status=404)
        if target.is_dir():
            if not path.endswith("/") and path:
                return RedirectResponse(f"{Path(path).name}/", status_code=307)
            target = target / "index.html"
        if not target.is_file():
            return _page("Not found", path, status=404)
        return FileResponse(target)

    return app


class CatalogQualityPlugin(AirflowPlugin):
    """Serves the per-run quality reports and links them from the Airflow UI."""

    name = "catalog_quality_reports"
    fastapi_apps = [
        {"app": build_app(), "url_prefix": URL_PREFIX, "name": "Catalog quality reports"}
    ]
    external_views = [
        {
            "name": "Catalog quality",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "catalog-quality",
        },
        {
            "name": "Quality report",
            "href": f"{URL_PREFIX}/dag-runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "catalog-quality-run",
        },
    ]
