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

    conn_platform_db: str = setting(
        "ENRICHMENT_AIRFLOW_CONN_PLATFORM_DB",
        "text",
        "enrichment_platform_db",
        "Airflow connection (postgres) of the platform database, used when it exists "
        "(none: never; the same for every role below)",
    )
    conn_source_db: str = setting(
        "ENRICHMENT_AIRFLOW_CONN_SOURCE_DB",
        "text",
        "enrichment_source_db",
        "Airflow connection (postgres) of the shop's database, a read-only role",
    )
    conn_elasticsearch: str = setting(
        "ENRICHMENT_AIRFLOW_CONN_ELASTICSEARCH",
        "text",
        "enrichment_es",
        "Airflow connection (elasticsearch) of the tag index",
    )
    conn_pinecone: str = setting(
        "ENRICHMENT_AIRFLOW_CONN_PINECONE",
        "text",
        "enrichment_pinecone",
        "Airflow connection (pinecone) of the vector indexes",
    )
    conn_openai: str = setting(
        "ENRICHMENT_AIRFLOW_CONN_OPENAI",
        "text",
        "enrichment_openai",
        "Airflow connection (openai) of the OpenAI-compatible embeddings API",
    )

    def connection_ids(self) -> dict[str, str]:
        """Role -> Airflow connection id, for the roles not switched off."""
        roles = {
            "platform_db": self.conn_platform_db,
            "source_db": self.conn_source_db,
            "elasticsearch": self.conn_elasticsearch,
            "pinecone": self.conn_pinecone,
            "openai": self.conn_openai,
        }
        return {role: c for role, c in roles.items() if c.strip().lower() not in ("", "none")}

    @classmethod
    def from_env(cls) -> AirflowSettings:
        return cls(**read_fields(cls))
