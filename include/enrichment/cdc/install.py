"""``cdc install / check / remove``: manage the configured capture mode in the source."""

from __future__ import annotations

from enrichment.cdc import documents, source
from enrichment.cdc.capture.factory import capture_for
from enrichment.config import Settings


def _run(settings: Settings, action: str, mode: str | None) -> dict:
    mapping = source.mapping_for(settings)
    capture = capture_for(mapping, settings, source.source_url(settings), mode)
    with source.source_connection(settings, readonly=action == "check") as conn:
        if action == "check":
            out = capture.check(conn)
            out["document_columns"] = documents.document_columns(conn, mapping)
            return out
        tables = capture.install(conn) if action == "install" else capture.remove(conn)
    return {"mode": capture.mode, "action": action, "tables": tables, "mapping": mapping.name}


def install(settings: Settings, mode: str | None = None) -> dict:
    """Install the capture mode (triggers + change log, or publication + slot)."""
    return _run(settings, "install", mode)


def check(settings: Settings, mode: str | None = None) -> dict:
    """Report whether the capture mode is installed and the mapping's query runs."""
    return _run(settings, "check", mode)


def remove(settings: Settings, mode: str | None = None) -> dict:
    """Remove the capture mode's triggers (or slot and publication)."""
    return _run(settings, "remove", mode)
