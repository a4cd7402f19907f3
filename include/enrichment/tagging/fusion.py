"""Fusion: turn per-signal evidence into tags with calibrated confidences.

How a confidence is computed (per attribute, per value ``v``):

1. Each signal ``s`` (``clip``, ``pixels``, ``text``, ``catalog``) reports a score
   ``p_s(v)`` in [0, 1]: CLIP's softmax over the attribute's applicable values, the
   pixel signal's sharpened colour shares, 1.0 for a synonym in the title (0.5 in the
   description, split between values when one field names several).
2. The signal's **reliability weight** ``w_s`` for this attribute (taxonomy
   ``weights``, else :data:`DEFAULT_WEIGHTS`) is the probability that the value is
   right when the signal is certain of it. Its support is ``e_s(v) = w_s * p_s(v)``.
3. **Agreement raises confidence.** Signals are treated as independent witnesses and
   pooled with a noisy-OR: ``pooled(v) = 1 - prod_s (1 - e_s(v))``. Pixels at 0.7
   and a title at 0.8 give 0.94; either alone stays at its own level.
4. **Conflict lowers it.** For a single-valued attribute, the strongest rival ``u``
   discounts ``v``: ``conf(v) = pooled(v) * (1 - 0.5 * pooled(u))``. Two signals
   backing different values therefore both fall, usually below the threshold.
   A negated mention ("not red") multiplies ``conf(red)`` by ``1 - w_text``.
5. **Abstain below the threshold.** The attribute's ``threshold`` (taxonomy) is the
   confidence an emitted tag must reach; otherwise nothing is emitted for it. A
   single-valued attribute emits at most its best value; a multi-valued one emits
   every value above the threshold (at most :data:`MAX_MULTI`).
6. ``applies_to`` is respected: an attribute (or value) that does not apply to the
   item's emitted category is not scored at all; with no emitted category all apply.

The ``sources`` of a tag are the signals that backed it: the value was their top
choice or got at least :data:`SOURCE_MIN_SCORE` from them. Weights and thresholds are
meant to be re-estimated with ``python -m enrichment evaluate`` on a labelled sample:
the precision a signal reaches alone is its weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from enrichment.tagging.taxonomy import SIGNALS, Attribute

DEFAULT_WEIGHTS: dict[str, float] = {"clip": 0.7, "pixels": 0.8, "text": 0.8, "catalog": 0.9}
CONFLICT_PENALTY = 0.5
SOURCE_MIN_SCORE = 0.25
MAX_MULTI = 3


@dataclass(frozen=True)
class FusedValue:
    """A value with its fused confidence and the signals that backed it."""

    value: str
    confidence: float
    sources: tuple[str, ...]


@dataclass
class FusedAttribute:
    """Fusion result for one attribute: what is emitted, and the best guess overall."""

    attribute: str
    emitted: list[FusedValue] = field(default_factory=list)
    best: FusedValue | None = None  # highest confidence, emitted or not (for evaluation)


def weight(attribute: Attribute, signal: str) -> float:
    """Reliability weight of ``signal`` for ``attribute``."""
    return attribute.weights.get(signal, DEFAULT_WEIGHTS[signal])


def fuse_attribute(
    attribute: Attribute,
    evidence: Mapping[str, Mapping[str, float]],
    *,
    negated: Iterable[str] = (),
    allowed: Iterable[str] | None = None,
) -> FusedAttribute:
    """Fuse ``evidence`` (signal -> value -> score in [0, 1]) for one attribute."""
    allowed_set = set(allowed) if allowed is not None else set(attribute.value_ids)
    negated_set = set(negated)
    unknown = set(evidence) - set(SIGNALS)
    if unknown:
        raise ValueError(f"unknown signals {sorted(unknown)}")
    pooled: dict[str, float] = {}
    backers: dict[str, list[str]] = {}
    for signal in SIGNALS:
        scores = {v: min(max(float(p), 0.0), 1.0) for v, p in (evidence.get(signal) or {}).items()}
        scores = {v: p for v, p in scores.items() if v in allowed_set and p > 0}
        if not scores:
            continue
        top = max(scores, key=scores.__getitem__)
        w = weight(attribute, signal)
        for v, p in scores.items():
            pooled[v] = 1.0 - (1.0 - pooled.get(v, 0.0)) * (1.0 - w * p)
            if v == top or p >= SOURCE_MIN_SCORE:
                backers.setdefault(v, []).append(signal)
    for v in negated_set & set(pooled):
        pooled[v] *= 1.0 - weight(attribute, "text")
    confidences: dict[str, float] = {}
    for v, p in pooled.items():
        if attribute.multi:
            confidences[v] = p
        else:
            rival = max((q for u, q in pooled.items() if u != v), default=0.0)
            confidences[v] = p * (1.0 - CONFLICT_PENALTY * rival)
    result = FusedAttribute(attribute.id)
    ranked = sorted(confidences.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked:
        return result
    fused = [FusedValue(v, round(c, 4), tuple(backers.get(v, ()))) for v, c in ranked]
    result.best = fused[0]
    above = [f for f in fused if f.confidence >= attribute.threshold and f.sources]
    result.emitted = above[:MAX_MULTI] if attribute.multi else above[:1]
    return result
