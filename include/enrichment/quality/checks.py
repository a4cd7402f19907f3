"""The quality checks as data: which SQL each one reads and which GX expectation judges it.

Every check is a :class:`CheckSpec` (name, plain-language description, threshold, the
Great Expectations expectation that evaluates it) attached to an :class:`AssetPlan` (a
SQL query over the platform database, or a small frame computed in Python for what SQL
cannot see: content hashes, counts reported by store backends). ``quality_gx`` runs the
plans; nothing here imports Great Expectations.

The SQL lives in :mod:`enrichment.quality.sql`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from enrichment.quality.sql import ANY
from enrichment.quality.thresholds import QualityConfig
from enrichment.tagging.taxonomy import Taxonomy

CATEGORIES = ("coverage", "consistency", "validity", "freshness", "error_rate", "drift", "accuracy")


@dataclass
class CheckSpec:
    """One check: what it means, its threshold, and the GX expectation that judges it.

    ``kind`` says how the expectation's result reads: ``min_ratio``/``max_ratio``/
    ``max_value`` (an aggregate ``observed_value``) or ``no_rows`` (a map expectation:
    the unexpected rows are the offending SKUs).
    """

    name: str
    category: str
    description: str
    kind: str
    gx_type: str
    gx_kwargs: dict
    threshold: float | None = None
    where: tuple[str, str, Any] | None = None
    severity: str = "error"
    unit: str = "SKUs"


@dataclass
class AssetPlan:
    """A batch of rows (SQL ``query`` or a Python ``frame``) and the checks run on it."""

    name: str
    checks: list[CheckSpec] = field(default_factory=list)
    query: str | None = None
    frame: Any = None
    index_column: str = "sku"


def pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def coverage_checks(cfg: QualityConfig, taxonomy: Taxonomy) -> list[CheckSpec]:
    specs = [
        CheckSpec(
            f"coverage.{ANY}",
            "coverage",
            "Active SKUs with at least one tag",
            "min_ratio",
            "ExpectColumnMeanToBeBetween",
            {"column": "tagged", "min_value": cfg.coverage_any},
            cfg.coverage_any,
            ("attribute", "==", ANY),
        )
    ]
    for a in taxonomy.attributes:
        t = cfg.coverage_threshold(a.id)
        scope = "all active SKUs" if a.applies_to is None else "active SKUs it applies to"
        specs.append(
            CheckSpec(
                f"coverage.{a.id}",
                "coverage",
                f"{a.label_en}: tagged among {scope}",
                "min_ratio",
                "ExpectColumnMeanToBeBetween",
                {"column": "tagged", "min_value": t},
                t,
                ("attribute", "==", a.id),
            )
        )
    return specs


def vector_checks(kinds: list[str]) -> list[CheckSpec]:
    specs = []
    for kind in sorted(kinds):
        specs.append(
            CheckSpec(
                f"consistency.vectors.{kind}",
                "consistency",
                f"Active SKUs missing a {kind} vector in the active index version",
                "no_rows",
                "ExpectColumnValuesToBeInSet",
                {"column": f"has_{kind}", "value_set": [1]},
                0,
            )
        )
        specs.append(
            CheckSpec(
                f"consistency.vectors_current.{kind}",
                "consistency",
                f"{kind.capitalize()} vectors computed from outdated content",
                "no_rows",
                "ExpectColumnValuesToBeInSet",
                {"column": f"current_{kind}", "value_set": [1]},
                0,
            )
        )
    return specs


def orphan_checks() -> list[CheckSpec]:
    return [
        CheckSpec(
            "consistency.orphan_tags",
            "consistency",
            "Tag store entries for deleted or unknown SKUs",
            "no_rows",
            "ExpectColumnValuesToBeInSet",
            {"column": "state", "value_set": ["active"]},
            0,
            ("kind", "==", "tag_store"),
            unit="SKU entries",
        ),
        CheckSpec(
            "consistency.orphan_vectors",
            "consistency",
            "Vector store entries for deleted or unknown SKUs",
            "no_rows",
            "ExpectColumnValuesToBeInSet",
            {"column": "state", "value_set": ["active"]},
            0,
            ("kind", "==", "vector_store"),
            unit="SKU entries",
        ),
    ]


def store_count_checks() -> list[CheckSpec]:
    return [
        CheckSpec(
            "consistency.store_counts",
            "consistency",
            "Stores whose SKU count (asked through their backend) differs from the active SKUs",
            "no_rows",
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "expected", "column_B": "actual"},
            0,
            unit="stores",
        )
    ]


def validity_checks(taxonomy: Taxonomy) -> list[CheckSpec]:
    allowed = sorted(f"{a.id}={v.id}" for a in taxonomy.attributes for v in a.values)
    single = sorted(a.id for a in taxonomy.attributes if not a.multi)
    specs = [
        CheckSpec(
            "validity.confidence",
            "validity",
            "Tags with a confidence outside [0, 1]",
            "no_rows",
            "ExpectColumnValuesToBeBetween",
            {"column": "confidence", "min_value": 0.0, "max_value": 1.0},
            0,
            unit="tags",
        ),
        CheckSpec(
            "validity.taxonomy_values",
            "validity",
            f"Tags whose value is not in the taxonomy (version {taxonomy.version})",
            "no_rows",
            "ExpectColumnValuesToBeInSet",
            {"column": "attr_value", "value_set": allowed},
            0,
            unit="tags",
        ),
        CheckSpec(
            "validity.unique_tags",
            "validity",
            "Duplicate (SKU, attribute, value) tags",
            "no_rows",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["sku", "attribute", "value"]},
            0,
            unit="tags",
        ),
    ]
    if single:
        specs.append(
            CheckSpec(
                "validity.single_value",
                "validity",
                f"Extra values of single-valued attributes ({', '.join(single)})",
                "no_rows",
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": ["sku", "attribute"]},
                0,
                ("attribute", "in", single),
                unit="tags",
            )
        )
    return specs


def provenance_checks() -> list[CheckSpec]:
    return [
        CheckSpec(
            "validity.versions",
            "validity",
            "Tags and vectors missing their model, taxonomy version or content hash",
            "no_rows",
            "ExpectColumnValuesToBeInSet",
            {"column": "recorded", "value_set": [1]},
            0,
            unit="entries",
        )
    ]


def freshness_checks() -> list[CheckSpec]:
    return [
        CheckSpec(
            "freshness.processed",
            "freshness",
            "SKUs changed up to the run's upper bound but not processed (stale)",
            "no_rows",
            "ExpectColumnValuesToBeInSet",
            {"column": "fresh", "value_set": [True]},
            0,
        )
    ]


def error_rate_checks(cfg: QualityConfig) -> list[CheckSpec]:
    return [
        CheckSpec(
            "error_rate.quarantine",
            "error_rate",
            "Quarantined images among processed images",
            "max_ratio",
            "ExpectColumnMeanToBeBetween",
            {"column": "quarantined", "max_value": cfg.max_quarantined},
            cfg.max_quarantined,
            unit="images",
        )
    ]


def drift_checks(cfg: QualityConfig, attributes: list[str]) -> list[CheckSpec]:
    return [
        CheckSpec(
            f"drift.{a}",
            "drift",
            f"Shift of the {a} value distribution since the previous run "
            "(population stability index)",
            "max_value",
            "ExpectColumnMaxToBeBetween",
            {"column": "psi", "max_value": cfg.max_psi},
            cfg.max_psi,
            ("attribute", "==", a),
            severity=cfg.drift_severity,
        )
        for a in sorted(attributes)
    ]


def accuracy_checks(cfg: QualityConfig, attributes: list[str]) -> list[CheckSpec]:
    return [
        CheckSpec(
            f"accuracy.{a}",
            "accuracy",
            f"Precision of emitted {a} tags on the golden sample",
            "min_ratio",
            "ExpectColumnMeanToBeBetween",
            {"column": "correct", "min_value": cfg.precision_threshold(a)},
            cfg.precision_threshold(a),
            ("attribute", "==", a),
            unit="tags",
        )
        for a in sorted(attributes)
    ]
