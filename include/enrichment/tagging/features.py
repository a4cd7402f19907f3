"""Feature vectors of one item for one attribute, the input of a calibration's learnt head.

Groups, concatenated in the order a calibration names them:

- ``evidence``: each signal's score (clip, pixels, text, catalog) for each of the
  attribute's values, zero where the signal said nothing;
- ``shares``: the pixel signal's colour shares and the foreground fraction;
- ``colour_stats``: its quantised-Lab statistics
  (:func:`~enrichment.tagging.signals.colour.colour_statistics`), zeros without a photo;
- ``clip``: the CLIP image embedding (a linear probe), zeros without one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from enrichment.tagging.signals.colour import STAT_SIZE, ColourResult
from enrichment.tagging.taxonomy import SIGNALS, Attribute

GROUPS = ("evidence", "shares", "colour_stats", "clip")


def evidence_vector(attr: Attribute, evidence: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    values = attr.value_ids
    out = np.zeros(len(SIGNALS) * len(values), dtype=np.float32)
    for s, signal in enumerate(SIGNALS):
        scores = evidence.get(signal) or {}
        for v, value in enumerate(values):
            out[s * len(values) + v] = float(scores.get(value, 0.0))
    return out


def shares_vector(attr: Attribute, colour: ColourResult | None) -> np.ndarray:
    values = attr.value_ids
    out = np.zeros(len(values) + 1, dtype=np.float32)
    if colour is None:
        return out
    for v, value in enumerate(values):
        out[v] = colour.shares.get(value, 0.0)
    out[-1] = colour.foreground_fraction
    return out


def attribute_features(
    attr: Attribute,
    groups: list[str],
    evidence: Mapping[str, Mapping[str, float]],
    colour: ColourResult | None,
    embedding: np.ndarray | None,
    clip_dim: int = 0,
) -> np.ndarray:
    """The concatenated feature groups of one item for ``attr``."""
    parts = []
    for group in groups:
        if group == "evidence":
            parts.append(evidence_vector(attr, evidence))
        elif group == "shares":
            parts.append(shares_vector(attr, colour))
        elif group == "colour_stats":
            stats = colour.stats if colour is not None else None
            parts.append(stats if stats is not None else np.zeros(STAT_SIZE, dtype=np.float32))
        elif group == "clip":
            if embedding is not None and len(embedding) == clip_dim:
                parts.append(np.asarray(embedding, dtype=np.float32))
            else:
                parts.append(np.zeros(clip_dim, dtype=np.float32))
        else:
            raise ValueError(f"unknown feature group {group!r}")
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
