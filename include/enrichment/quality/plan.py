"""Which checks apply to a run, the data each one reads, and the numbers of its report.

The planner looks at the run (its kind, upper bound, the previous checked run), the
configured vector kinds and golden sample, builds the :class:`AssetPlan` list that
``quality_gx`` evaluates, and gathers what the report shows beyond pass/fail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from enrichment.quality import checks as qc
from enrichment.quality import data as qd
from enrichment.quality import sql
from enrichment.quality.calibrated import NO_CALIBRATION_NOTE, calibration_golden
from enrichment.quality.golden import resolve_golden
from enrichment.quality.results import (
    SAMPLES,
    CheckResult,
    QualityResult,
    skipped,
    to_check_result,
)


def get_run(cur, s: str, run_id: str | None) -> dict | None:
    where = "run_id = %s" if run_id else "status = 'committed'"
    cur.execute(
        f"SELECT run_id, kind, status, lower_ts, upper_ts, committed_at, summary "
        f"FROM {s}.runs WHERE {where} ORDER BY committed_at DESC NULLS LAST LIMIT 1",
        (run_id,) if run_id else (),
    )
    row = cur.fetchone()
    if row is None:
        return None
    keys = ("run_id", "kind", "status", "lower_ts", "upper_ts", "committed_at", "summary")
    return dict(zip(keys, row, strict=True))


IN_FLIGHT_HOURS = 12  # a detected run older than the DAG run timeout is not in flight


def _runs_in_flight(cur, s: str, run_id: str) -> list[str]:
    """Other runs detected but not committed yet (recently started): they are mid-write."""
    cur.execute(
        f"""SELECT run_id FROM {s}.runs WHERE status = 'detected' AND run_id <> %s
               AND started_at > clock_timestamp() - make_interval(hours => %s)
             ORDER BY started_at""",
        (run_id, IN_FLIGHT_HOURS),
    )
    return [r[0] for r in cur.fetchall()]


def _freshness_bound(cur, s: str, run: dict):
    if run["kind"] == "incremental":
        return run["upper_ts"]
    cur.execute(
        f"SELECT upper_ts FROM {s}.runs WHERE kind = 'incremental' AND status = "
        "'committed' AND committed_at <= %s ORDER BY committed_at DESC LIMIT 1",
        (run["committed_at"],),
    )
    row = cur.fetchone()
    return row[0] if row else None


def _previous_run(cur, s: str, run: dict) -> str | None:
    cur.execute(
        f"""SELECT r.run_id FROM {s}.runs r WHERE r.committed_at < %s
                      AND EXISTS (SELECT 1 FROM {s}.tag_distributions d WHERE d.run_id = r.run_id)
                    ORDER BY r.committed_at DESC LIMIT 1""",
        (run["committed_at"],),
    )
    row = cur.fetchone()
    return row[0] if row else None


@dataclass
class _Plan:
    assets: list[qc.AssetPlan]
    order: list[tuple[str, qc.CheckSpec, CheckResult | None]]
    counts: dict[str, dict]
    report: dict

    def results(self, raw: dict[str, dict]) -> list[CheckResult]:
        index = {spec.name: asset.index_column for asset in self.assets for spec in asset.checks}
        return [
            fixed
            or to_check_result(
                spec, raw.get(spec.name), index.get(spec.name, "sku"), self.counts.get(spec.name)
            )
            for _, spec, fixed in self.order
        ]


class Planner:
    """Decides which checks apply to this run and gathers the report's numbers."""

    def __init__(self, conn, cur, settings, config, taxonomy, run, url, calibration=None):
        self.conn, self.cur, self.settings, self.cfg = conn, cur, settings, config
        self.taxonomy, self.run, self.url = taxonomy, run, url
        self.calibration = calibration or {"id": None, "note": NO_CALIBRATION_NOTE}
        self.s = settings.state_schema
        self.assets: list[qc.AssetPlan] = []
        self.order: list = []
        self.counts: dict[str, dict] = {}
        self.report: dict = {}
        self.judged: qd.JudgedKeys | None = None  # None: freshness and orphans read every SKU

    @property
    def _judged_keys(self) -> frozenset[str] | None:
        return self.judged.keys if self.judged else None

    def _add(
        self, asset: qc.AssetPlan | None, specs: list[qc.CheckSpec], skip: dict | None = None
    ) -> None:
        """Plan ``specs`` on ``asset``; those in ``skip`` (name: (why, observed)) are skipped."""
        skip = skip or {}
        judged = [spec for spec in specs if spec.name not in skip]
        if asset is not None and judged:
            asset.checks = judged
            self.assets.append(asset)
        for spec in specs:
            if spec.name in skip:
                self.order.append((None, spec, skipped(spec, *skip[spec.name])))
            else:
                self.order.append((asset.name if asset else None, spec, None))

    def _skip(self, specs: list[qc.CheckSpec], why: str, observed=None) -> None:
        self._add(None, specs, {spec.name: (why, observed) for spec in specs})

    def _small(self, name: str, n: int, of: int, unit: str) -> dict:
        """``{name: (why, observed)}`` when ``of`` is below the minimum population."""
        if of >= self.cfg.min_population:
            return {}
        why = f"only {of} {unit} (< {self.cfg.min_population}), not judged"
        return {name: (why, n / of if of else None)}

    def build(self) -> _Plan:
        cur, s = self.cur, self.s
        kinds = self.settings.vector_kinds
        indexes, tables = qd.vector_indexes(cur, s, kinds)
        expected = qd.expected_vector_counts(cur, s, kinds)
        self.report.update(
            run=_run_info(self.run),
            taxonomy_version=self.taxonomy.version,
            active_skus=expected["active"],
            vector_indexes=indexes,
            thresholds=asdict(self.cfg),
        )
        run_id = (self.run or {}).get("run_id")
        self.judged = qd.judged_keys(self.conn, self.settings, run_id, self.cfg.source_sample)
        self._coverage()
        self._consistency(kinds, indexes, tables, expected)
        self._validity(tables)
        self._freshness()
        self._error_rate()
        self._distributions_and_drift()
        self._accuracy()
        self.report["descriptions"] = {spec.name: spec.description for _, spec, _ in self.order}
        return _Plan(self.assets, self.order, self.counts, self.report)

    def _coverage(self) -> None:
        matrix = qd.coverage_matrix(self.cur, self.s, self.taxonomy)
        self.report["coverage"] = matrix
        specs = qc.coverage_checks(self.cfg, self.taxonomy)
        for spec in specs:
            attr = spec.name.split(".", 1)[1]
            rows = [m for m in matrix if m["attribute"] == attr]
            self.counts[spec.name] = {
                "n": sum(m["tagged"] for m in rows),
                "of": sum(m["applicable"] for m in rows),
            }
        small = {}
        for spec in specs:
            c = self.counts[spec.name]
            small |= self._small(spec.name, c["n"], c["of"], "SKUs")
        self._add(
            qc.AssetPlan("coverage", query=sql.coverage_query(self.s, self.taxonomy)), specs, small
        )

    def _consistency(self, kinds, indexes, tables, expected) -> None:
        import pandas as pd

        s = self.s
        busy = _runs_in_flight(self.cur, s, (self.run or {}).get("run_id"))
        # runs in flight have written to the stores but not yet committed product_state:
        # counts and content hashes cannot agree until they commit
        why = f"run {', '.join(busy)} in progress (stores mid-write); the next check judges it"
        if busy:
            self._skip(qc.vector_checks(list(kinds)), why)
        else:
            self._add(
                qc.AssetPlan("vectors", query=sql.vectors_query(s, indexes, qd.no_image_hash())),
                qc.vector_checks(list(kinds)),
            )
        orphans = qd.orphan_rows(self.conn, self.settings, tables, self._judged_keys)
        self._add(qc.AssetPlan("orphans", frame=orphans), qc.orphan_checks())
        counts, notes = qd.store_counts(self.cur, self.settings, self.url, indexes, expected)
        self.report["store_counts"] = counts
        self.report["calibration"] = self.calibration
        self.report["notes"] = [*notes, self.calibration["note"]]
        self.report["source_sample"] = self.judged.summary() if self.judged else None
        if self.judged:
            self.report["notes"].append(self.judged.note())
        if busy:
            self._skip(qc.store_count_checks(), why)
            self.report["notes"].append(f"Store consistency not judged: {why}.")
            return
        frame = pd.DataFrame(counts, columns=["store", "backend", "expected", "actual"])
        self._add(
            qc.AssetPlan("store_counts", frame=frame, index_column="store"), qc.store_count_checks()
        )

    def _validity(self, tables) -> None:
        s = self.s
        self._add(qc.AssetPlan("tags", query=sql.tags_query(s)), qc.validity_checks(self.taxonomy))
        self._add(
            qc.AssetPlan("provenance", query=sql.provenance_query(s, tables)),
            qc.provenance_checks(),
        )

    def _freshness(self) -> None:
        import pandas as pd

        bound = _freshness_bound(self.cur, self.s, self.run)
        if bound is None:
            self._skip(qc.freshness_checks(), "no committed incremental run to bound it")
            return
        rows, population = qd.freshness_rows(self.conn, self.settings, bound, self._judged_keys)
        stale = [r for r in rows if not r["fresh"]]
        self.report["freshness"] = {
            "bound": bound.isoformat(),
            "population": population,
            "stale": len(stale),
            "samples": stale[:SAMPLES],
            "source_sample": self.report.get("source_sample"),
        }
        frame = pd.DataFrame(rows, columns=["sku", "change", "updated_at", "fresh"])
        frame["fresh"] = frame["fresh"].astype(bool)
        self.counts["freshness.processed"] = {"total": population}
        self._add(qc.AssetPlan("freshness", frame=frame), qc.freshness_checks())

    def _error_rate(self) -> None:
        cur, s, nih = self.cur, self.s, qd.no_image_hash()
        self.report["quarantine"] = qd.quarantine_reasons(cur, s)
        cur.execute(f"SELECT count(*), sum(quarantined) FROM ({sql.quarantine_query(s, nih)}) q")
        images, bad = cur.fetchone()
        self.counts["error_rate.quarantine"] = {"n": int(bad or 0), "of": int(images)}
        self._add(
            qc.AssetPlan("quarantine", query=sql.quarantine_query(s, nih)),
            qc.error_rate_checks(self.cfg),
            self._small("error_rate.quarantine", int(bad or 0), int(images), "images"),
        )

    def _distributions_and_drift(self) -> None:
        cur, s = self.cur, self.s
        previous = _previous_run(cur, s, self.run)
        self.report["previous_run"] = previous
        self.report["distributions"] = qd.distributions(cur, s, previous)
        self.report["histograms"] = qd.confidence_histograms(cur, s)
        if previous is None:
            self.report["drift"] = {}
            spec = replace(
                qc.drift_checks(self.cfg, ["*"])[0],
                name="drift",
                description="Shift of each attribute's value distribution since the previous "
                "run (population stability index)",
            )
            self._skip([spec], "no previous run to compare with")
            return
        psi = qd.drift_table(cur, s, previous)
        self.report["drift"] = psi
        current, before = (
            qd.distribution_totals(cur, s, None),
            qd.distribution_totals(cur, s, previous),
        )
        small = {}
        for attribute, value in psi.items():
            tags = min(current.get(attribute, 0), before.get(attribute, 0))
            if tags < self.cfg.min_population:
                why = f"only {tags} tags in a run (< {self.cfg.min_population}), not judged"
                small[f"drift.{attribute}"] = (why, value)
        self._add(
            qc.AssetPlan("drift", query=sql.drift_query(s, previous)),
            qc.drift_checks(self.cfg, list(psi)),
            small,
        )

    def _accuracy(self) -> None:
        golden = resolve_golden(self.conn, self.settings, self.cfg.golden, self.taxonomy)
        sample = calibration_golden(self.settings)
        if golden is None and self.cfg.golden.lower() == "auto" and sample is not None:
            golden = resolve_golden(self.conn, self.settings, str(sample), self.taxonomy)
        self.report["golden"] = golden
        if golden is None:
            spec = replace(
                qc.accuracy_checks(self.cfg, ["*"])[0],
                name="accuracy",
                description="Precision of emitted tags on the golden sample",
            )
            self._skip([spec], "no golden sample configured")
            self.report["accuracy"] = []
            return
        table = qd.accuracy_table(self.cur, self.s, golden)
        self.report["accuracy"] = table
        judged, small = [], []
        for row in table:
            (judged if row["emitted"] >= self.cfg.min_support else small).append(row)
            self.counts[f"accuracy.{row['attribute']}"] = {
                "n": row["correct"],
                "of": row["emitted"],
            }
        if judged:
            self._add(
                qc.AssetPlan("accuracy", query=sql.accuracy_query(self.s, golden)),
                qc.accuracy_checks(self.cfg, [r["attribute"] for r in judged]),
            )
        for row in small:
            spec = qc.accuracy_checks(self.cfg, [row["attribute"]])[0]
            self._skip(
                [spec],
                f"only {row['emitted']} emitted tags on golden SKUs (< {self.cfg.min_support})",
                row["correct"] / row["emitted"],
            )


def _run_info(run: dict) -> dict:
    return {
        "run_id": run["run_id"],
        "kind": run["kind"],
        "lower": run["lower_ts"].isoformat()
        if run["lower_ts"]
        else ((run["summary"] or {}).get("window") or {}).get("lower"),
        "upper": run["upper_ts"].isoformat(),
        "committed_at": run["committed_at"].isoformat() if run["committed_at"] else None,
        "summary": run["summary"] or {},
    }


def metrics(result: QualityResult, plan: _Plan, run: dict) -> dict:
    """The key numbers of the run, kept for the trend charts of later reports."""
    by_name = {c.name: c for c in result.checks}
    summary = run["summary"] or {}
    rep = plan.report

    def obs(name: str):
        check = by_name.get(name)
        return check.observed if check and check.outcome != "skipped" else None

    accuracy = [
        c.observed for c in result.checks if c.category == "accuracy" and c.observed is not None
    ]
    drift = list((rep.get("drift") or {}).values())
    return {
        "active_skus": rep.get("active_skus"),
        "coverage_any": obs(f"coverage.{sql.ANY}"),
        "quarantine_rate": obs("error_rate.quarantine"),
        "stale_skus": (rep.get("freshness") or {}).get("stale"),
        "orphans": sum(
            int(by_name[n].observed or 0)
            for n in ("consistency.orphan_tags", "consistency.orphan_vectors")
            if n in by_name
        ),
        "min_precision": min(accuracy) if accuracy else None,
        "max_psi": max(drift) if drift else None,
        "checks": len(result.checks),
        "failed": len(result.failed),
        "warnings": len(result.warnings),
        "processed": summary.get("processed"),
        "retagged": summary.get("retagged"),
        "quarantined_in_run": summary.get("quarantined"),
        "run_seconds": summary.get("seconds"),
    }
