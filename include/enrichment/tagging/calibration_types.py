"""A calibration learnt from a labelled sample: its types, interval maths and file format.

A calibration directory holds ``calibration.json`` (per attribute: how tags are decided,
thresholds, expected precision and coverage with their intervals, what each signal is
worth) and ``arrays.npz`` (the heads' coefficients and confidence maps). Its id is a
short hash of both files' content, so any change is a new version; the id joins the
taxonomy version in every tag's lineage (:func:`lineage_version`).

Kinds of attribute calibration:

- ``head``: a small multinomial logistic regression over the signals' features (pixel
  colour statistics, text and catalogue evidence, the CLIP image embedding when a
  model was set) picks the value; its probability, mapped through an isotonic fit
  of out-of-fold outcomes, is the tag's confidence.
- ``fusion``: the taxonomy's fusion with each signal's weight set to its measured
  precision, and a learnt threshold (used where a head cannot be fitted: multi-valued
  attributes, too few labelled items per value).
- ``taxonomy``: the sample was too small to measure the attribute (too few tags behind
  the estimate); the taxonomy's own fusion and threshold decide, as uncalibrated.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enrichment.config import ConfigError

FORMAT_VERSION = 1
META_FILE = "calibration.json"
ARRAYS_FILE = "arrays.npz"
GOLDEN_FILE = "golden.csv"  # the labelled sample as sku,attribute,value (the quality gate's)
Z_95 = 1.959964


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default); (0, 1) if n=0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def lineage_version(taxonomy_version: str, calibration_id: str | None) -> str:
    """The version recorded on tags: the taxonomy's, plus the calibration's when one is used."""
    return f"{taxonomy_version}.cal-{calibration_id}" if calibration_id else taxonomy_version


@dataclass
class Estimate:
    """A measured share with its 95 % Wilson interval: ``k`` of ``n``."""

    k: int
    n: int
    value: float | None = None
    low: float = 0.0
    high: float = 1.0

    @classmethod
    def of(cls, k: int, n: int) -> Estimate:
        low, high = wilson_interval(k, n)
        return cls(k, n, round(k / n, 4) if n else None, round(low, 4), round(high, 4))


@dataclass
class AttributeCalibration:
    """How one attribute is decided under the calibration, and what it is expected to reach."""

    attribute: str
    kind: str  # "head" or "fusion"
    threshold: float | None  # None: the target is unreachable, the attribute abstains
    category_thresholds: dict[str, float | None] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)  # fusion kind: signal weights
    classes: list[str] = field(default_factory=list)  # head kind: the values it can emit
    features: list[str] = field(default_factory=list)  # head kind: feature groups, in order
    precision: Estimate | None = None  # expected precision of emitted tags (out of fold)
    coverage: Estimate | None = None  # expected share of items with an emitted tag
    n: int = 0  # labelled items of this attribute in the sample
    signal_worth: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def too_small(self) -> bool:
        return any(n.startswith("sample too small") for n in self.notes)


@dataclass
class Calibration:
    """A whole calibration: per-attribute decisions plus their arrays (``head.*``, ``iso.*``)."""

    taxonomy_version: str
    target_precision: float
    clip_model: str | None
    attributes: dict[str, AttributeCalibration]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    sample: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "taxonomy_version": self.taxonomy_version,
            "target_precision": self.target_precision,
            "clip_model": self.clip_model,
            "sample": self.sample,
            "attributes": {a: asdict(c) for a, c in self.attributes.items()},
        }


def _arrays_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.digest()


def content_id(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> str:
    """Short content hash of a calibration (meta JSON, normalised, and every array)."""
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    digest.update(_arrays_bytes(arrays))
    return digest.hexdigest()[:12]


def save_calibration(calibration: Calibration, directory: Path) -> Path:
    """Write ``calibration`` to ``directory`` (created) and set its id; returns the folder."""
    directory.mkdir(parents=True, exist_ok=True)
    meta = calibration.meta()
    calibration.id = content_id(meta, calibration.arrays)
    (directory / META_FILE).write_text(
        json.dumps({"id": calibration.id, **meta}, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    np.savez(directory / ARRAYS_FILE, **calibration.arrays)
    return directory


def save_golden(directory: Path, rows: list[tuple[str, str, str]]) -> Path:
    """Write the labelled sample (taxonomy ids) beside the calibration."""
    import csv

    path = directory / GOLDEN_FILE
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sku", "attribute", "value"])
        writer.writerows(rows)
    return path


def _estimate(raw: dict | None) -> Estimate | None:
    return Estimate(**raw) if raw else None


def load_calibration(directory: str | Path, setting: str = "--calibration") -> Calibration:
    """Read a calibration directory; a missing, altered or unreadable one is a ConfigError."""
    directory = Path(directory)
    try:
        data = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{setting}: cannot read a calibration from {directory}: {exc}") from exc
    stated = data.pop("id", None)
    if data.get("format") != FORMAT_VERSION:
        raise ConfigError(f"{setting}: {directory} has calibration format {data.get('format')!r}")
    if content_id(data, arrays) != stated:
        raise ConfigError(
            f"{setting}: {directory} was changed after it was written (its content does not "
            f"match id {stated!r}); run calibrate again"
        )
    attributes = {}
    for name, raw in data["attributes"].items():
        raw = dict(raw)
        raw["precision"], raw["coverage"] = _estimate(raw["precision"]), _estimate(raw["coverage"])
        attributes[name] = AttributeCalibration(**raw)
    return Calibration(
        taxonomy_version=data["taxonomy_version"],
        target_precision=float(data["target_precision"]),
        clip_model=data.get("clip_model"),
        attributes=attributes,
        arrays=arrays,
        sample=data.get("sample", {}),
        id=str(stated),
    )


def confidence_map(calibration: Calibration, attribute: str, score: float) -> float:
    """Calibrated confidence of a raw score (isotonic fit of out-of-fold outcomes)."""
    x = calibration.arrays.get(f"iso.{attribute}.x")
    y = calibration.arrays.get(f"iso.{attribute}.y")
    if x is None or y is None or not len(x):
        return float(score)
    return float(np.interp(score, x, y))
