"""Quality checks and the analysts' report: thresholds, golden sample, report folder.

The thresholds' defaults live in ``enrichment/quality/quality.yaml``; each variable below
overrides one entry (``yaml``). ``ENRICHMENT_QUALITY_COVERAGE_<ATTRIBUTE>`` and
``ENRICHMENT_QUALITY_PRECISION_<ATTRIBUTE>`` set one attribute's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import enrichment.config.env as env
from enrichment.config.declare import Var, read_fields, setting

PREFIX = "ENRICHMENT_QUALITY_"


@dataclass(frozen=True)
class Threshold:
    """One ``ENRICHMENT_QUALITY_*`` override of a ``quality.yaml`` entry."""

    var: Var
    section: str | None  # None: a top-level key
    entry: str

    @property
    def yaml_key(self) -> str:
        return f"{self.section}.{self.entry}" if self.section else self.entry


def _threshold(key: str, yaml_key: str, kind: str, doc: str, **limits) -> Threshold:
    section, _, entry = yaml_key.rpartition(".")
    return Threshold(Var(PREFIX + key, kind, None, doc, **limits), section or None, entry)


CONFIG_FILE = Var(
    PREFIX + "CONFIG", "path", None, "YAML file merged over the bundled quality.yaml, key by key"
)
THRESHOLDS = (
    _threshold(
        "COVERAGE_ANY",
        "coverage.any",
        "number",
        "share of active SKUs with at least one tag",
        low=0,
        high=1,
    ),
    _threshold(
        "COVERAGE",
        "coverage.default",
        "number",
        "share of applicable active SKUs with a tag of the attribute (one attribute: ..._COVERAGE_<ATTRIBUTE>)",
        low=0,
        high=1,
    ),
    _threshold(
        "MAX_QUARANTINED",
        "error_rate.max_quarantined",
        "number",
        "largest share of quarantined images among images of active SKUs",
        low=0,
        high=1,
    ),
    _threshold(
        "MAX_PSI",
        "drift.max_psi",
        "number",
        "largest population stability index of an attribute against the previous checked run",
        low=0,
    ),
    _threshold(
        "DRIFT_SEVERITY",
        "drift.severity",
        "text",
        "error: a drift flag fails the run; warning: reported only",
    ),
    _threshold(
        "GOLDEN",
        "accuracy.golden",
        "text",
        "golden sample: auto, none, schema.table or a CSV file",
    ),
    _threshold(
        "PRECISION",
        "accuracy.default",
        "number",
        "precision of emitted tags on golden SKUs (one attribute: ..._PRECISION_<ATTRIBUTE>)",
        low=0,
        high=1,
    ),
    _threshold(
        "MIN_SUPPORT",
        "accuracy.min_support",
        "int",
        "fewer emitted tags than this on golden SKUs: precision is reported, not judged",
        low=0,
    ),
    _threshold(
        "TREND_RUNS",
        "report.trend_runs",
        "int",
        "runs shown in the trend charts (at least 2 are shown)",
        low=0,
    ),
    _threshold(
        "SOURCE_SAMPLE",
        "source_sample",
        "int",
        "SKUs sampled from the source for the freshness and orphan checks beyond the run's own "
        "changes, on catalogues larger than this (0: every document, every run)",
        low=0,
    ),
    _threshold(
        "MIN_POPULATION",
        "min_population",
        "int",
        "a ratio over fewer items than this is reported, not judged",
        low=0,
    ),
)
PER_ATTRIBUTE = {"COVERAGE_": "coverage", "PRECISION_": "accuracy"}


def per_attribute(key: str) -> tuple[str, str] | None:
    """``(section, attribute)`` of a per-attribute variable name without :data:`PREFIX`
    (``COVERAGE_COLOR`` -> ``("coverage", "color")``), else None."""
    for prefix, section in PER_ATTRIBUTE.items():
        if key.startswith(prefix):
            return section, key[len(prefix) :].lower().replace("_", "-")
    return None


@dataclass(frozen=True)
class QualitySettings:
    """Where the analysts' reports are written."""

    report_dir: Path | None = setting(
        "ENRICHMENT_REPORT_DIR",
        "path",
        doc="folder of the analysts' HTML reports",
        shown="<data dir>/reports",
    )

    @classmethod
    def from_env(cls) -> QualitySettings:
        return cls(**read_fields(cls))


def quality_variables() -> dict[str, str]:
    """Every set ``ENRICHMENT_QUALITY_*`` variable (raw text), for
    :func:`enrichment.quality.thresholds.load_quality_config`."""
    return env.with_prefix(PREFIX)
