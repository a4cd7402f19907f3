"""Quality thresholds without a calibration stay as configured, with a note saying so."""

from __future__ import annotations

import pytest

from enrichment.config import load_settings
from enrichment.quality.calibrated import (
    NO_CALIBRATION_NOTE,
    calibrated_config,
    calibration_golden,
    configured_calibration,
)
from enrichment.quality.thresholds import load_quality_config

pytestmark = pytest.mark.unit


def test_without_a_calibration_the_config_is_unchanged(monkeypatch):
    monkeypatch.delenv("ENRICHMENT_CALIBRATION", raising=False)
    settings = load_settings()
    assert configured_calibration(settings) is None and calibration_golden(settings) is None
    cfg = load_quality_config({})
    same, info = calibrated_config(cfg, None)
    assert same is cfg
    assert info == {"id": None, "note": NO_CALIBRATION_NOTE, "attributes": {}}
