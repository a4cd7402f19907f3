"""Apply a calibration to one item's evidence: the calibrated decision for an attribute.

See :mod:`enrichment.tagging.calibration_types` for the kinds (``head``, ``fusion``).
A tag is never emitted without evidence for the attribute from at least one signal,
and never below the calibrated threshold of the item's category (else the global one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace

import numpy as np

from enrichment.tagging.calibration_types import AttributeCalibration, Calibration, confidence_map
from enrichment.tagging.features import attribute_features
from enrichment.tagging.fusion import SOURCE_MIN_SCORE, FusedAttribute, FusedValue, fuse_attribute
from enrichment.tagging.signals.colour import ColourResult
from enrichment.tagging.taxonomy import SIGNALS, Attribute


def threshold_for(ac: AttributeCalibration, category: str | None) -> float | None:
    """The category's own threshold where the sample allowed one, else the global one."""
    if category is not None and category in ac.category_thresholds:
        return ac.category_thresholds[category]
    return ac.threshold


def head_probabilities(cal: Calibration, attribute: str, x: np.ndarray) -> np.ndarray:
    """Softmax of the attribute head's logits for the feature vector ``x``."""
    a = cal.arrays
    z = (x - a[f"head.{attribute}.mean"]) / a[f"head.{attribute}.scale"]
    logits = a[f"head.{attribute}.coef"] @ z + a[f"head.{attribute}.intercept"]
    e = np.exp(logits - logits.max())
    return e / e.sum()


def _sources(evidence: Mapping[str, Mapping[str, float]], value: str, groups: list[str]) -> list:
    backing = []
    for signal in SIGNALS:
        scores = evidence.get(signal) or {}
        if scores and (
            scores.get(value, 0.0) >= SOURCE_MIN_SCORE or max(scores, key=scores.get) == value
        ):
            backing.append(signal)
    if backing:
        return backing
    # the head decided from features no single signal backs outright: name those it read
    return [s for s in SIGNALS if evidence.get(s)] or (["clip"] if "clip" in groups else [])


def apply_head(
    cal: Calibration,
    ac: AttributeCalibration,
    attr: Attribute,
    category: str | None,
    evidence: Mapping[str, Mapping[str, float]],
    colour: ColourResult | None,
    embedding: np.ndarray | None,
    allowed: Iterable[str],
) -> FusedAttribute:
    clip_dim = int(cal.arrays.get(f"head.{attr.id}.clip_dim", np.zeros(1))[0])
    x = attribute_features(attr, ac.features, evidence, colour, embedding, clip_dim)
    probs = head_probabilities(cal, attr.id, x)
    allowed_set = set(allowed)
    result = FusedAttribute(attr.id)
    for i in np.argsort(-probs, kind="stable"):
        value = ac.classes[int(i)]
        if value not in allowed_set:
            continue
        score = float(probs[i])
        conf = round(confidence_map(cal, attr.id, score), 4)
        fv = FusedValue(value, conf, tuple(_sources(evidence, value, ac.features)))
        result.best = fv
        t = threshold_for(ac, category)
        has_evidence = any(evidence.get(s) for s in SIGNALS) or (
            embedding is not None and "clip" in ac.features
        )
        if t is not None and score >= t and has_evidence and fv.sources:
            result.emitted = [fv]
        break
    return result


def apply_fusion(
    cal: Calibration,
    ac: AttributeCalibration,
    attr: Attribute,
    category: str | None,
    evidence: Mapping[str, Mapping[str, float]],
    negated: Iterable[str],
    allowed: Iterable[str],
) -> FusedAttribute:
    t = threshold_for(ac, category)
    tuned = replace(
        attr, weights={**attr.weights, **ac.weights}, threshold=math.inf if t is None else t
    )
    fused = fuse_attribute(tuned, evidence, negated=negated, allowed=allowed)

    def mapped(v: FusedValue) -> FusedValue:
        return replace(v, confidence=round(confidence_map(cal, attr.id, v.confidence), 4))

    fused.emitted = [mapped(v) for v in fused.emitted]
    fused.best = mapped(fused.best) if fused.best else None
    return fused
