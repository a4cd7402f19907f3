"""Settings, read from environment variables with documented defaults.

Every setting has one name (``ENRICHMENT_*``) declared once, in the module of its
concern: :mod:`.core` (data folder, database, runs, models), :mod:`.images`,
:mod:`.models` (token budget, OpenAI API, offline loading), :mod:`.vectors` (pgvector,
Pinecone), :mod:`.tags` (tag store, Elasticsearch), :mod:`.quality`, :mod:`.pods`
(Kubernetes execution) and :mod:`.airflow` (local Airflow). :mod:`.env` is the only
reader of the process environment. ``docs/configuration.md`` is generated from the
declarations (``python -m enrichment config --markdown``). Errors about configuration
name the variable to fix.
"""

from __future__ import annotations

from enrichment.config.core import PROJECT_ROOT, Settings, load_settings
from enrichment.config.errors import ConfigError

__all__ = ["PROJECT_ROOT", "ConfigError", "Settings", "load_settings"]
