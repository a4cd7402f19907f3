"""Local Airflow (``make airflow``, ``demo run``): the settings file it imports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from enrichment.config.declare import read_fields, setting


@dataclass(frozen=True)
class AirflowSettings:
    """What the local Airflow commands read besides ``AIRFLOW__*``."""

    settings_file: Path | None = setting(
        "ENRICHMENT_AIRFLOW_SETTINGS",
        "path",
        doc="Astro-CLI-style pools, variables and connections imported by the local Airflow",
        shown="<project>/airflow_settings.yaml",
    )
    deadlines: bool = setting(
        "ENRICHMENT_AIRFLOW_DEADLINES",
        "flag",
        True,
        doc="Attach the deadline alert to the daily DAG; `dags test` runs parse with it off "
        "(Airflow 3.3's in-memory test run cannot evaluate deadlines)",
    )

    @classmethod
    def from_env(cls) -> AirflowSettings:
        return cls(**read_fields(cls))
