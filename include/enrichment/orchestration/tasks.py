"""What the DAG tasks do, as plain functions of the task context (no Airflow imports).

Kept here, not in the DAG files, so DAG files stay wiring only and every step is
testable without a scheduler. ``context`` is the Airflow task context mapping.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from enrichment.orchestration import pipeline
from enrichment.runs import lifecycle as runs

log = logging.getLogger(__name__)


def run_id_from(context: Mapping[str, Any]) -> str:
    dag_run = context["dag_run"]
    return pipeline.platform_run_id(dag_run.dag_id, dag_run.run_id)


def upper_from(context: Mapping[str, Any]):
    dag_run = context["dag_run"]
    return pipeline.upper_bound(
        context.get("data_interval_end"),
        getattr(dag_run, "run_after", None),
        context.get("logical_date"),
    )


def detect(
    context: Mapping[str, Any], *, kind: str = "incremental", selection: dict | None = None
) -> list[int]:
    """Detect the run's change set; returns the shard numbers to map over.

    An incremental run for a past interval re-processes that interval's changes and
    keeps the capture position (see :func:`enrichment.runs.lifecycle.detect`).
    """
    pipeline.ensure_ready()
    run = runs.detect(
        run_id_from(context),
        upper_from(context),
        kind=kind,
        selection=selection,
        interval_start=context.get("data_interval_start"),
    )
    log.info("change set: %s; %d shard(s)", run["counts"], run["shards"])
    if (run.get("params") or {}).get("past_interval"):
        log.warning(
            "past interval %s .. %s: changes re-processed, capture position not moved",
            run["lower_ts"],
            run["upper_ts"],
        )
    if run["status"] == "committed":
        log.info("run already committed; nothing to process")
        return []
    return list(range(run["shards"]))


def backfill_detect(context: Mapping[str, Any]) -> list[int]:
    """Check the backfill form, then detect (or, with ``dry_run``, only report)."""
    from enrichment.runs import selection as selections

    params = context["params"]
    chosen = selections.from_params(params)
    pipeline.ensure_ready()
    selections.check(chosen)
    if params.get("dry_run"):
        preview = selections.preview(chosen, upper_from(context))
        for line in selections.format_preview(preview).splitlines():
            log.info(line)
        return []
    return detect(context, kind="backfill", selection=chosen)


def is_dry_run(context: Mapping[str, Any]) -> bool:
    return bool((context.get("params") or {}).get("dry_run"))


def process_shard_command(context: Mapping[str, Any], shard: int) -> list[str]:
    """The exact shard command, run in-process locally and in a pod on Kubernetes."""
    return [
        "python",
        "-m",
        "enrichment",
        "process-shard",
        "--run-id",
        run_id_from(context),
        "--shard",
        str(shard),
    ]


def run_command_in_process(command: list[str]) -> None:
    """Run ``python -m enrichment ...`` through the CLI in this process; fail on non-zero."""
    from enrichment.cli.main import main

    argv = command[3:]
    code = main(argv)
    if code:
        raise RuntimeError(f"command {' '.join(argv)} exited with {code}")


def process_shard_in_process(context: Mapping[str, Any], shard: int) -> None:
    """Run the shard command through the CLI in this process."""
    run_command_in_process(process_shard_command(context, shard))


def commit(context: Mapping[str, Any]) -> dict:
    """Commit the run (all shards must have succeeded) and log the readable summary."""
    summary = runs.commit(run_id_from(context))
    for line in runs.format_summary(summary).splitlines():
        log.info(line)
    return summary


def backfill_selection(params: Mapping[str, Any]) -> dict:
    """The backfill form as a detection selection (raises ``SelectionError`` naming the field)."""
    from enrichment.runs.selection import from_params

    return from_params(params)


def quality(context: Mapping[str, Any]) -> dict:
    """Check the data quality of this run after commit; write its report and Data Docs.

    Raises :class:`enrichment.quality.evaluate.QualityFailed` listing each failed check with its
    observed value and threshold (the report is written first).
    """
    return _quality(run_id_from(context))


def quality_report(context: Mapping[str, Any]) -> dict:
    """The daily check: the current state against the latest committed run."""
    return _quality(None)


def _quality(run_id: str | None) -> dict:
    from enrichment.quality.evaluate import quality_summary_text, run_quality

    result = run_quality(run_id)
    for line in quality_summary_text(result).splitlines():
        log.info(line)
    result.raise_for_failures()
    return {
        "run_id": result.run_id,
        "passed": result.passed,
        "checks": len(result.checks),
        "warnings": len(result.warnings),
        "report": result.report_path,
    }


def reembed_fill_command(params: Mapping[str, Any], shard: int) -> list[str]:
    """The exact fill command of one slice, run in-process locally and in a pod."""
    return ["python", "-m", "enrichment", "index", "fill", "--kind", str(params["kind"]),
            "--shard", str(shard), "--shards", str(int(params["shards"]))]  # fmt: skip


def reembed_fill(params: Mapping[str, Any], shard: int) -> None:
    """Fill one slice of the building index version through the CLI, in this process."""
    run_command_in_process(reembed_fill_command(params, shard))


def reembed_switch(params: Mapping[str, Any]) -> dict:
    """Verify the filled version and make it active (builds its HNSW index first)."""
    from enrichment.bluegreen.vector_versions import switch

    if params.get("switch") is False:  # unset or null: the default, switch
        log.info("switch=false: the filled version stays building")
        return {"switched": False}
    result = switch(kind=params["kind"], drop_old=bool(params.get("drop_old")))
    log.info("switched %s: %s", params["kind"], result)
    if params["kind"] == "text":
        log.info(
            "now set ENRICHMENT_TEXT_MODEL to the new model and unset ENRICHMENT_TEXT_MODEL_NEXT"
        )
    return result
