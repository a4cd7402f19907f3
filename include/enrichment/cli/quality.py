"""``python -m enrichment quality`` and ``report``: data quality checks and the analysts' report.

``quality`` evaluates every check on the current state for the latest committed run (or
``--run-id``), prints each check with its observed value, threshold and outcome, writes
the run's report and GX Data Docs, and exits 1 when an error-severity check failed.
``report`` re-renders a checked run's report from the recorded results.
"""

from __future__ import annotations

import argparse
import json


def cmd_quality(args: argparse.Namespace) -> int:
    from enrichment.quality.evaluate import quality_summary_text, run_quality

    result = run_quality(args.run_id, docs=not args.no_docs, report=not args.no_report)
    if args.json:
        print(json.dumps(result.to_json(), default=str))
    else:
        print(quality_summary_text(result))
        if result.checks:
            print()
            width = max(len(c.name) for c in result.checks)
            print(f"{'check':<{width}}  {'observed':<42}  {'threshold':<18}  outcome")
            for c in result.checks:
                print(
                    f"{c.name:<{width}}  {c.observed_text[:42]:<42}  {c.threshold_text:<18}  "
                    f"{c.outcome}"
                )
        if result.data_docs:
            print(f"\nGX Data Docs: {result.data_docs}")
    return 0 if result.passed else 1


def cmd_report(args: argparse.Namespace) -> int:
    from enrichment.quality.report import pages as report

    if args.list:
        root = report.reports_root()
        rows = report.index_rows()
        if rows:
            print(f"{'run committed':<25}  {'last checked':<25}  verdict  report")
        for row in rows:
            verdict = "passed" if row["passed"] else "FAILED"
            print(
                f"{row['committed_at']:<25}  {row['checked_at']:<25}  {verdict:<7}  "
                f"{root / row['href']}"
            )
        return 0
    print(report.render_stored(args.run_id))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quality",
        help="run the data quality checks (exit 1 when one fails) and write the report",
        description="Evaluate coverage, consistency, validity, freshness, error rate, drift "
        "and accuracy checks with Great Expectations on the current state, for the latest "
        "committed run (or --run-id). Thresholds: quality.yaml, ENRICHMENT_QUALITY_*.",
    )
    p.add_argument("--run-id", help="committed run to check (default: the latest)")
    p.add_argument("--json", action="store_true", help="one JSON object with every check")
    p.add_argument("--no-docs", action="store_true", help="skip building GX Data Docs")
    p.add_argument("--no-report", action="store_true", help="skip writing the HTML report")
    p.set_defaults(func=cmd_quality)

    p = sub.add_parser(
        "report",
        help="re-render the analysts' report of a checked run; print its path",
        description="Render the HTML report of a run from its recorded quality results "
        "(default: the latest checked run) into ENRICHMENT_REPORT_DIR "
        "(default $ENRICHMENT_DATA_DIR/reports).",
    )
    p.add_argument("--run-id", help="checked run (default: the latest)")
    p.add_argument("--list", action="store_true", help="list every report with its verdict")
    p.set_defaults(func=cmd_report)
