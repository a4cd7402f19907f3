"""Results of the quality checks: one :class:`CheckResult` per check, a :class:`QualityResult`
per evaluation, the failure raised for the quality task, and the demo's summary text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from enrichment.quality import checks as qc

SAMPLES = 5


class QualityFailed(RuntimeError):
    """One or more error-severity checks failed; ``result`` holds them all."""

    def __init__(self, result: QualityResult):
        super().__init__(result.failure_message())
        self.result = result


@dataclass
class CheckResult:
    """The outcome of one check, as the report, the CLI and the task log show it."""

    name: str
    category: str
    description: str
    severity: str
    outcome: str  # pass | fail | warn | skipped
    observed: float | None
    observed_text: str
    threshold_text: str
    detail: dict = field(default_factory=dict)
    threshold: float | None = None

    def line(self) -> str:
        return (
            f"{self.name}: observed {self.observed_text}, threshold {self.threshold_text}"
            f" [{self.outcome.upper()}]"
        )


@dataclass
class QualityResult:
    """Every check of one quality evaluation, with the numbers of the run's report."""

    run_id: str | None
    checks: list[CheckResult]
    checked_at: str
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)
    report_data: dict = field(default_factory=dict)
    data_docs: str | None = None
    report_path: str | None = None
    note: str | None = None

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.outcome == "fail"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if c.outcome == "warn"]

    @property
    def passed(self) -> bool:
        return not self.failed

    def failure_message(self) -> str:
        lines = [f"{len(self.failed)} quality check(s) failed for run {self.run_id}:"]
        lines += [
            f"  - {c.name}: observed {c.observed_text}, threshold {c.threshold_text}"
            for c in self.failed
        ]
        if self.report_path:
            lines.append(f"report: {self.report_path}")
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        if self.failed:
            raise QualityFailed(self)

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "passed": self.passed,
            "checked_at": self.checked_at,
            "seconds": self.seconds,
            "failed": len(self.failed),
            "warnings": len(self.warnings),
            "note": self.note,
            "checks": [asdict(c) for c in self.checks],
            "metrics": self.metrics,
            "data_docs": self.data_docs,
            "report": self.report_path,
        }


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    return qc.pct(value) if kind in ("min_ratio", "max_ratio") else f"{value:.4f}"


def _threshold_text(spec: qc.CheckSpec) -> str:
    if spec.kind == "no_rows":
        return f"0 {spec.unit}"
    sign = "≥" if spec.kind == "min_ratio" else "≤"
    return f"{sign} {_fmt(spec.threshold, spec.kind)}"


def to_check_result(
    spec: qc.CheckSpec, raw: dict | None, index_column: str = "sku", counts: dict | None = None
) -> CheckResult:
    """Read GX's result for ``spec`` into a :class:`CheckResult`."""
    bad = "fail" if spec.severity == "error" else "warn"
    base = dict(
        name=spec.name,
        category=spec.category,
        description=spec.description,
        severity=spec.severity,
        threshold_text=_threshold_text(spec),
        threshold=spec.threshold,
    )
    if raw is None:
        return CheckResult(**base, outcome=bad, observed=None, observed_text="not evaluated")
    if raw["error"]:
        return CheckResult(
            **base, outcome=bad, observed=None, observed_text=f"error: {raw['error']}"
        )
    res, detail = raw["result"], dict(counts or {})
    if spec.kind == "no_rows":
        observed = float(res.get("unexpected_count") or 0)
        total = detail.pop("total", res.get("element_count"))
        rows = [  # map expectations list offending rows by index; compound ones by value
            row
            for key in ("partial_unexpected_index_list", "partial_unexpected_list")
            for row in res.get(key) or []
            if isinstance(row, dict)
        ]
        samples = [row.get(index_column) for row in rows]
        samples = [str(s) for s in dict.fromkeys(samples) if s is not None][:SAMPLES]
        text = (
            f"{int(observed)} of {total} {spec.unit} failing"
            if total is not None
            else str(observed)
        )
        if samples and observed:
            text += f" (e.g. {', '.join(samples)})"
        detail.update(total=total, samples=samples)
    else:
        value = res.get("observed_value")
        observed = float(value) if value is not None else None
        text = _fmt(observed, spec.kind)
        if "n" in detail and "of" in detail:
            text += f" ({detail['n']} of {detail['of']} {spec.unit})"
    outcome = "pass" if raw["success"] else bad
    return CheckResult(
        **base, outcome=outcome, observed=observed, observed_text=text, detail=detail
    )


def skipped(spec: qc.CheckSpec, why: str, observed: float | None = None) -> CheckResult:
    text = f"{_fmt(observed, spec.kind)} ({why})" if observed is not None else f"n/a ({why})"
    return CheckResult(
        spec.name,
        spec.category,
        spec.description,
        spec.severity,
        "skipped",
        observed,
        text,
        _threshold_text(spec),
        threshold=spec.threshold,
    )


def quality_summary_text(result: QualityResult) -> str:
    """A few readable lines: the verdict, each category's checks, failures, report path."""
    if result.run_id is None:
        return f"Quality: {result.note}"
    verdict = "PASSED" if result.passed else "FAILED"
    skipped_n = sum(1 for c in result.checks if c.outcome == "skipped")
    lines = [
        f"Quality of run {result.run_id}: {verdict} - {len(result.checks)} checks, "
        f"{len(result.failed)} failed, {len(result.warnings)} warnings, "
        f"{skipped_n} skipped ({result.seconds:.1f} s)"
    ]
    mark = {"pass": "ok", "fail": "FAIL", "warn": "WARN", "skipped": "skip"}
    for category in qc.CATEGORIES:
        items = [c for c in result.checks if c.category == category]
        if not items:
            continue
        parts = []
        for c in items:
            short = c.name.split(".", 1)[1] if "." in c.name else c.name
            value = c.observed_text.split(" (")[0]
            parts.append(f"{short} {value} {mark[c.outcome]}")
        lines.append(f"  {category:<12} " + "; ".join(parts))
    for c in result.failed + result.warnings:
        lines.append(
            f"  {c.outcome.upper()} {c.name}: observed {c.observed_text}, "
            f"threshold {c.threshold_text}"
        )
    if result.report_path:
        lines.append(f"  report: {result.report_path}")
    return "\n".join(lines)
