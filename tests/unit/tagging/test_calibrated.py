"""Decisions under a calibration: per-category thresholds fall back to the global one."""

from __future__ import annotations

import pytest

from enrichment.tagging.calibrated import threshold_for
from enrichment.tagging.calibration_types import AttributeCalibration

pytestmark = pytest.mark.unit


def test_a_category_threshold_wins_where_the_sample_allowed_one():
    ac = AttributeCalibration("color", "fusion", 0.6, category_thresholds={"dress": 0.8})
    assert threshold_for(ac, "dress") == 0.8
    assert threshold_for(ac, "pants") == 0.6 and threshold_for(ac, None) == 0.6
    abstains = AttributeCalibration("pattern", "head", None)
    assert threshold_for(abstains, "dress") is None
