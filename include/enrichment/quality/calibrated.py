"""Quality thresholds from the run's calibration (``ENRICHMENT_CALIBRATION``).

A calibration measured, on a labelled sample of this catalogue, the precision and
coverage each attribute reaches (with 95 % intervals). With one configured:

- the coverage floor of each calibrated attribute is the lower end of its expected
  coverage interval, instead of the bundled floors fitted to the demo catalogue;
- the precision threshold of its accuracy check is the lower end of its expected
  precision interval: a drop beyond the interval fails the run, naming the attribute;
- the labelled sample (``golden.csv`` in the calibration directory) is the golden
  sample when ``ENRICHMENT_QUALITY_GOLDEN`` is ``auto`` and the source has no
  ``ground_truth`` table.

A threshold set explicitly (an ``ENRICHMENT_QUALITY_COVERAGE_<ATTRIBUTE>`` or
``ENRICHMENT_QUALITY_PRECISION_<ATTRIBUTE>`` variable) still wins. Without a
calibration the report says that the thresholds were not measured on this catalogue.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from enrichment.config.quality import quality_variables
from enrichment.quality.thresholds import ENV_PREFIX, QualityConfig
from enrichment.tagging.calibration_types import GOLDEN_FILE, Calibration, load_calibration

NO_CALIBRATION_NOTE = (
    "No calibration configured (ENRICHMENT_CALIBRATION): coverage floors and precision "
    "thresholds are the bundled defaults, not measured on this catalogue; run "
    "python -m enrichment calibrate on a labelled sample to set them."
)


def _explicit(kind: str, attribute: str, environ: dict[str, str]) -> bool:
    return bool(environ.get(f"{ENV_PREFIX}{kind}_{attribute.upper().replace('-', '_')}"))


def calibrated_config(
    config: QualityConfig, calibration: Calibration | None, environ: dict[str, str] | None = None
) -> tuple[QualityConfig, dict]:
    """``config`` with floors and thresholds from ``calibration``, and what was changed."""
    if calibration is None:
        return config, {"id": None, "note": NO_CALIBRATION_NOTE, "attributes": {}}
    environ = quality_variables() if environ is None else dict(environ)
    coverage, precision = dict(config.coverage_attributes), dict(config.precision_attributes)
    changed: dict[str, dict] = {}
    for a, ac in calibration.attributes.items():
        entry: dict = {"kind": ac.kind, "too_small": ac.too_small}
        if ac.too_small:  # no firm estimate: the configured thresholds stay
            changed[a] = entry
            continue
        if ac.coverage is not None and not _explicit("COVERAGE", a, environ):
            coverage[a] = entry["coverage_floor"] = ac.coverage.low
        if (
            ac.threshold is not None
            and ac.precision is not None
            and ac.precision.value is not None
            and not _explicit("PRECISION", a, environ)
        ):
            precision[a] = entry["precision_floor"] = ac.precision.low
        changed[a] = entry
    note = (
        f"Calibration {calibration.id}: coverage floors and precision thresholds of "
        f"{', '.join(sorted(a for a, e in changed.items() if not e['too_small'])) or 'none'}"
        " are the lower ends of the 95 % intervals measured on its labelled sample."
    )
    cfg = replace(config, coverage_attributes=coverage, precision_attributes=precision)
    return cfg, {"id": calibration.id, "note": note, "attributes": changed}


def configured_calibration(settings) -> Calibration | None:
    """The calibration named by the settings (ENRICHMENT_CALIBRATION), or None."""
    path = getattr(settings, "calibration_path", None)
    return load_calibration(path, "ENRICHMENT_CALIBRATION") if path else None


def calibration_golden(settings) -> Path | None:
    """The labelled sample of the configured calibration, as a golden CSV, if it has one."""
    path = getattr(settings, "calibration_path", None)
    golden = Path(path) / GOLDEN_FILE if path else None
    return golden if golden is not None and golden.is_file() else None
