"""Build the configured change-capture mode for a source mapping."""

from __future__ import annotations

from enrichment.cdc.capture.cursor import CursorCapture
from enrichment.cdc.capture.logical import LogicalCapture
from enrichment.cdc.capture.triggers import TriggerCapture
from enrichment.cdc.capture.types import CaptureMode
from enrichment.cdc.mapping_types import MODES, SourceMapping
from enrichment.config import ConfigError, Settings


def capture_for(
    mapping: SourceMapping, settings: Settings, url: str, mode: str | None = None
) -> CaptureMode:
    """The capture mode ``mode`` (default ``ENRICHMENT_CAPTURE_MODE``) over ``mapping``."""
    mode = mode or settings.capture_mode
    if mode == "triggers":
        return TriggerCapture(mapping, settings.capture_schema)
    if mode == "cursor":
        return CursorCapture(mapping, settings.overlap_seconds)
    if mode == "log":
        return LogicalCapture(mapping, url)
    raise ConfigError(f"ENRICHMENT_CAPTURE_MODE must be one of {', '.join(MODES)}, got {mode!r}")
