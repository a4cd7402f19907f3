"""Great Expectations 1.x execution of the check plans, and Data Docs per run.

One ephemeral GX context per evaluation: a generic SQL data source on the platform
database (``data_sources.add_sql``: it accepts the unix-socket URL of the embedded
server), a pandas data source for the frames computed in Python, one expectation suite
and validation definition per :class:`~enrichment.quality.checks.AssetPlan`. Data Docs
are built into the folder given (the run's report folder), so each run has its own.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

from enrichment.quality.checks import AssetPlan, CheckSpec

log = logging.getLogger(__name__)

SAMPLE_SIZE = 5
SITE = "run"
# GX's getting-started images, copied into every site but referenced by no page.
_UNUSED_STATIC = (
    "glossary_scroller.gif",
    "iterative-dev-loop.png",
    "validation_failed_unexpected_values.gif",
)


def _import_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    return gx, gxe, Column


def _expectation(gxe, column_cls, spec: CheckSpec):
    kwargs = dict(spec.gx_kwargs)
    if spec.where:
        column, op, value = spec.where
        col = column_cls(column)
        kwargs["row_condition"] = col == value if op == "==" else col.is_in(list(value))
    return getattr(gxe, spec.gx_type)(**kwargs, meta={"check": spec.name})


def _context(gx, docs_dir: Path | None):
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    ctx = gx.get_context(mode="ephemeral", project_config=config)
    if docs_dir is not None:
        ctx.add_data_docs_site(
            SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return ctx


def _plain(value):
    """JSON-friendly copy of a GX result value (numpy scalars, tuples, timestamps)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _error(info: dict | None) -> str | None:
    """The message of an exception GX caught, flat or keyed by metric."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    messages = [_error(v) for v in info.values() if isinstance(v, dict)]
    return next((m for m in messages if m), None)


def _close(source) -> None:
    """Dispose of the SQL engines GX made, so no connection outlives the evaluation."""
    if source is not None:
        source.get_execution_engine().engine.dispose()
        source.get_engine().dispose()


def evaluate(
    plans: list[AssetPlan], connection_string: str, *, run_name: str, docs_dir: Path | None = None
) -> dict[str, dict]:
    """Run every plan's expectations; returns ``{check name: result}``.

    Each result has ``success``, ``result`` (GX's result dict, samples of offending rows
    included) and ``error`` (the message of an expectation that raised, else None).
    """
    gx, gxe, column_cls = _import_gx()
    from great_expectations.core.run_identifier import RunIdentifier

    ctx = _context(gx, docs_dir)
    sources: dict = {}  # "sql" / "frames": the data sources, made when first needed
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    out: dict[str, dict] = {}
    try:
        for plan in plans:
            if not plan.checks:
                continue
            batch, params = _batch(ctx, sources, plan, connection_string)
            suite = ctx.suites.add(gx.ExpectationSuite(name=plan.name))
            for spec in plan.checks:
                suite.add_expectation(_expectation(gxe, column_cls, spec))
            definition = ctx.validation_definitions.add(
                gx.ValidationDefinition(name=plan.name, data=batch, suite=suite)
            )
            result = definition.run(
                batch_parameters=params,
                run_id=run_id,
                result_format={
                    "result_format": "SUMMARY",
                    "unexpected_index_column_names": [plan.index_column],
                    "partial_unexpected_count": SAMPLE_SIZE,
                    "return_unexpected_index_query": False,
                },
            )
            for r in result.results:
                name = r.expectation_config.meta["check"]
                error = _error(r.exception_info)
                out[name] = {
                    "success": bool(r.success),
                    "result": _plain(dict(r.result or {})),
                    "error": error,
                }
    finally:
        _close(sources.get("sql"))
    if docs_dir is not None:
        build_docs(ctx, docs_dir)
    return out


def _batch(ctx, sources: dict, plan: AssetPlan, connection_string: str):
    """The batch definition of ``plan``'s rows (SQL query or data frame) and its parameters."""
    if plan.query is None:
        if "frames" not in sources:
            sources["frames"] = ctx.data_sources.add_pandas(name="computed")
        asset = sources["frames"].add_dataframe_asset(name=plan.name)
        return asset.add_batch_definition_whole_dataframe("all"), {"dataframe": plan.frame}
    if "sql" not in sources:
        with warnings.catch_warnings():  # "a PostgresDatasource may be more appropriate":
            warnings.simplefilter("ignore")  # it rejects unix-socket URLs
            sources["sql"] = ctx.data_sources.add_sql(
                name="platform", connection_string=connection_string
            )
    query = plan.query.strip()
    if not query.upper().startswith("SELECT "):  # GX query assets start with SELECT
        query = f"SELECT * FROM ({query}) AS q"
    asset = sources["sql"].add_query_asset(name=plan.name, query=query)
    return asset.add_batch_definition_whole_table("all"), None


def build_docs(ctx, docs_dir: Path) -> Path:
    """Build the run's Data Docs site and drop GX's unreferenced tutorial images."""
    ctx.build_data_docs(site_names=[SITE])
    for name in _UNUSED_STATIC:
        (docs_dir / "static" / "images" / name).unlink(missing_ok=True)
    return docs_dir / "index.html"


def clear_docs(docs_dir: Path) -> None:
    """Remove a previous Data Docs build of the same run (re-checks replace it)."""
    shutil.rmtree(docs_dir, ignore_errors=True)
