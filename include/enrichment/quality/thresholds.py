"""Thresholds of the quality checks: ``quality.yaml``, an optional override file, env vars.

Order of precedence (last wins): the bundled ``quality.yaml``, the file named by
``ENRICHMENT_QUALITY_CONFIG`` (merged key by key), then single ``ENRICHMENT_QUALITY_*``
variables (listed in ``quality.yaml``). A bad value raises :class:`ConfigError` naming
the setting to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from enrichment.config import ConfigError
from enrichment.config.quality import PREFIX as ENV_PREFIX
from enrichment.config.quality import THRESHOLDS, per_attribute, quality_variables

DEFAULT_PATH = Path(__file__).with_name("quality.yaml")
SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds and options of every quality check."""

    coverage_any: float = 0.98
    coverage_default: float = 0.98
    coverage_attributes: dict[str, float] = field(default_factory=dict)
    max_quarantined: float = 0.005
    max_psi: float = 0.25
    drift_severity: str = "error"
    golden: str = "auto"
    precision_default: float = 0.92
    precision_attributes: dict[str, float] = field(default_factory=dict)
    min_support: int = 20
    trend_runs: int = 14
    min_population: int = 20
    source_sample: int = 20_000

    def coverage_threshold(self, attribute: str) -> float:
        """Minimum coverage of ``attribute`` (its own entry, else the default)."""
        return self.coverage_attributes.get(attribute, self.coverage_default)

    def precision_threshold(self, attribute: str) -> float:
        """Minimum precision of ``attribute`` on the golden sample."""
        return self.precision_attributes.get(attribute, self.precision_default)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path, setting: str) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{setting}: cannot read quality thresholds from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{setting}: {path} must hold a mapping of sections")
    return data


def _ratio(value: object, setting: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{setting} must be a number between 0 and 1, got {value!r}") from exc
    if not 0.0 <= number <= 1.0:
        raise ConfigError(f"{setting} must be between 0 and 1, got {number}")
    return number


def _positive(value: object, setting: str, kind: type = float) -> float:
    try:
        number = kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{setting} must be a non-negative number, got {value!r}") from exc
    if number < 0:
        raise ConfigError(f"{setting} must be a non-negative number, got {number}")
    return number


def _env_overrides(data: dict, environ: dict[str, str]) -> dict:
    simple = {t.var.name[len(ENV_PREFIX) :]: (t.section, t.entry) for t in THRESHOLDS}
    out = _merge(data, {})
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG" or raw == "":
            continue
        key = name[len(ENV_PREFIX) :]
        if key in simple:
            section, entry = simple[key]
            if section is None:
                out[entry] = raw
            else:
                out.setdefault(section, {})[entry] = raw
            continue
        found = per_attribute(key)
        if found is None:
            raise ConfigError(f"{name} is not a known quality setting (see quality.yaml)")
        section, attribute = found
        out.setdefault(section, {}).setdefault("attributes", {})
        out[section]["attributes"] = {**out[section]["attributes"], attribute: raw}
    return out


def load_quality_config(environ: dict[str, str] | None = None) -> QualityConfig:
    """Read the thresholds (bundled file, override file, then environment variables).

    ``environ``: the variables to apply (default: the process environment's).
    """
    environ = quality_variables() if environ is None else dict(environ)
    data = _read(DEFAULT_PATH, "quality.yaml")
    override = environ.get(ENV_PREFIX + "CONFIG")
    if override:
        data = _merge(data, _read(Path(override), ENV_PREFIX + "CONFIG"))
    data = _env_overrides(data, environ)
    cov, err = data.get("coverage", {}), data.get("error_rate", {})
    drift, acc = data.get("drift", {}), data.get("accuracy", {})
    severity = str(drift.get("severity", "error")).lower()
    if severity not in SEVERITIES:
        raise ConfigError(f"{ENV_PREFIX}DRIFT_SEVERITY must be error or warning, got {severity!r}")
    return QualityConfig(
        coverage_any=_ratio(cov.get("any", 0.98), ENV_PREFIX + "COVERAGE_ANY"),
        coverage_default=_ratio(cov.get("default", 0.98), ENV_PREFIX + "COVERAGE"),
        coverage_attributes={
            str(a): _ratio(v, f"{ENV_PREFIX}COVERAGE_{str(a).upper().replace('-', '_')}")
            for a, v in (cov.get("attributes") or {}).items()
        },
        max_quarantined=_ratio(err.get("max_quarantined", 0.005), ENV_PREFIX + "MAX_QUARANTINED"),
        max_psi=_positive(drift.get("max_psi", 0.25), ENV_PREFIX + "MAX_PSI"),
        drift_severity=severity,
        golden=str(acc.get("golden", "auto")).strip() or "auto",
        precision_default=_ratio(acc.get("default", 0.92), ENV_PREFIX + "PRECISION"),
        precision_attributes={
            str(a): _ratio(v, f"{ENV_PREFIX}PRECISION_{str(a).upper().replace('-', '_')}")
            for a, v in (acc.get("attributes") or {}).items()
        },
        min_support=int(_positive(acc.get("min_support", 20), ENV_PREFIX + "MIN_SUPPORT", int)),
        min_population=int(
            _positive(data.get("min_population", 20), ENV_PREFIX + "MIN_POPULATION", int)
        ),
        source_sample=int(
            _positive(data.get("source_sample", 20_000), ENV_PREFIX + "SOURCE_SAMPLE", int)
        ),
        trend_runs=max(
            2,
            int(
                _positive(
                    data.get("report", {}).get("trend_runs", 14), ENV_PREFIX + "TREND_RUNS", int
                )
            ),
        ),
    )
