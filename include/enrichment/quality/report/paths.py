"""Where the analysts' reports are written: one folder per checked run under a root."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from enrichment.config import Settings, load_settings
from enrichment.config.quality import QualitySettings


def reports_root(settings: Settings | None = None) -> Path:
    """Folder holding every run's report (``ENRICHMENT_REPORT_DIR``)."""
    settings = settings or load_settings()
    custom = QualitySettings.from_env().report_dir
    return custom.resolve() if custom else settings.data_dir / "reports"


def report_dir_name(run_id: str) -> str:
    """A folder name for a run id (run ids hold ':' and '+'); stable and collision-free."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._") or "run"
    if slug == run_id:
        return slug
    return f"{slug[:120]}-{hashlib.sha1(run_id.encode()).hexdigest()[:6]}"


def report_dir(settings: Settings | None, run_id: str) -> Path:
    return reports_root(settings) / report_dir_name(run_id)
