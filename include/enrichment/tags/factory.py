"""The configured tag store: PostgreSQL, mirrored into the sinks of ``ENRICHMENT_TAG_SINKS``."""

from __future__ import annotations

from enrichment.tags.documents import TagStore
from enrichment.tags.store import MirroredTagStore, PostgresTagStore

TAG_SINKS = ("elasticsearch",)


def tag_sinks_from_env() -> list:
    """The sinks named in ``ENRICHMENT_TAG_SINKS`` (comma list, empty by default)."""
    from enrichment.config import ConfigError
    from enrichment.config.tags import TagSettings

    sinks = []
    for name in dict.fromkeys(TagSettings.from_env().sinks):
        if name not in TAG_SINKS:
            raise ConfigError(
                f"ENRICHMENT_TAG_SINKS: {name!r} is not a known tag sink ({', '.join(TAG_SINKS)})"
            )
        from enrichment.tags.es_sink import ElasticsearchTagSink

        sinks.append(ElasticsearchTagSink.from_env())
    return sinks


def tag_store_from_settings(settings, url: str) -> TagStore:
    """The configured tag store (``ENRICHMENT_TAG_STORE``, default ``postgres``), mirrored
    into the sinks of ``ENRICHMENT_TAG_SINKS`` when any are configured."""
    from enrichment.config import ConfigError
    from enrichment.config.tags import TagSettings

    backend = TagSettings.from_env().store
    if backend != "postgres":
        raise ConfigError(f"ENRICHMENT_TAG_STORE={backend!r} is not a known tag store (postgres)")
    primary = PostgresTagStore(url, settings.state_schema)
    sinks = tag_sinks_from_env()
    return MirroredTagStore(primary, sinks) if sinks else primary
