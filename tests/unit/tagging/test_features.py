"""Feature vectors of the calibrated heads: evidence per signal and value, colour shares."""

from __future__ import annotations

import numpy as np
import pytest

from enrichment.tagging.features import attribute_features, evidence_vector, shares_vector
from enrichment.tagging.taxonomy import SIGNALS, Taxonomy

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def color():
    return next(a for a in Taxonomy.load().attributes if a.id == "color")


def test_evidence_is_laid_out_signal_by_signal_value_by_value(color):
    values = color.value_ids
    signal = SIGNALS[-1]
    vec = evidence_vector(color, {signal: {"red": 0.75}, "unknown-signal": {"red": 1.0}})
    assert vec.shape == (len(SIGNALS) * len(values),)
    assert vec[(len(SIGNALS) - 1) * len(values) + values.index("red")] == 0.75
    assert vec.sum() == 0.75


def test_missing_colour_and_embedding_give_zeros_of_the_right_size(color):
    assert shares_vector(color, None).tolist() == [0.0] * (len(color.value_ids) + 1)
    feats = attribute_features(color, ["evidence", "clip"], {}, None, np.ones(3), clip_dim=4)
    assert feats.shape == (len(SIGNALS) * len(color.value_ids) + 4,) and not feats.any()
    assert attribute_features(color, [], {}, None, None).shape == (0,)
    with pytest.raises(ValueError, match="unknown feature group 'pixels'"):
        attribute_features(color, ["pixels"], {}, None, None)
