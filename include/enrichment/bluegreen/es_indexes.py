"""Blue/green for the Elasticsearch tag indexes: list, switch and drop taxonomy versions.

Each taxonomy version has its own index ``<prefix>-<version>``; the read alias
``<prefix>`` points at exactly one of them (``active``). After a taxonomy change the
shard workers write re-tagged SKUs into the new version's index (``building``: the
index of the configured taxonomy) while searches keep reading the old one; a backfill
(``force``) re-tags every live SKU. ``switch`` refreshes the new index, compares its
count of active documents with the active SKUs in PostgreSQL (``product_state``) and,
when they match, moves the alias in one atomic ``_aliases`` request. Metadata updates
and deletes go to every version index, so an old index stays correct for what it shows
until it is dropped. ``drop`` deletes ``retired`` indexes (a building one only with
``force``, the active one never).
"""

from __future__ import annotations

import logging

from enrichment.bluegreen.vector_versions import SwitchRefused
from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.tagging.taxonomy import Taxonomy
from enrichment.tags.es_sink import ElasticsearchTagSink

log = logging.getLogger(__name__)

__all__ = ["SwitchRefused", "drop", "switch", "versions"]


def _sink(sink: ElasticsearchTagSink | None) -> ElasticsearchTagSink:
    return sink or ElasticsearchTagSink.from_env()


def expected_active(settings: Settings) -> int:
    """Active SKUs the platform has processed (what a complete index must hold)."""
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {settings.state_schema}.product_state WHERE active")
        return int(cur.fetchone()[0])


def configured_version(settings: Settings) -> str:
    """The version the shard workers tag with now: taxonomy, plus calibration if set."""
    from enrichment.tagging.calibration_types import lineage_version, load_calibration

    version = Taxonomy.load(settings.taxonomy_path).version
    path = getattr(settings, "calibration_path", None)
    cal_id = load_calibration(path, "ENRICHMENT_CALIBRATION").id if path else None
    return lineage_version(version, cal_id)


def versions(settings: Settings | None = None, *, sink: ElasticsearchTagSink | None = None) -> dict:
    """Every version index with its state and active-document count, and the target."""
    settings = settings or load_settings()
    sink = _sink(sink)
    building = sink.index_for(configured_version(settings))
    rows = []
    for name, info in sink.indexes().items():
        state = "active" if info["aliased"] else "building" if name == building else "retired"
        rows.append(
            {
                "index": name,
                "taxonomy_version": info["taxonomy_version"],
                "state": state,
                "documents": sink.count_skus(index=name),
            }
        )
    return {
        "alias": sink.prefix,
        "expected": expected_active(settings),
        "configured_index": building,
        "indexes": rows,
    }


def switch(
    settings: Settings | None = None,
    *,
    version: str | None = None,
    drop_old: bool = False,
    sink: ElasticsearchTagSink | None = None,
) -> dict:
    """Point the read alias at ``version``'s index (default: the configured taxonomy)."""
    settings = settings or load_settings()
    sink = _sink(sink)
    target = sink.index_for(version or configured_version(settings))
    if target not in sink.indexes():
        raise SwitchRefused(
            f"no index {target}: no SKU was tagged with that taxonomy version "
            "yet (run a backfill with it first; see `es-index versions`)"
        )
    current = sink.alias_indexes()
    if current == [target]:
        raise SwitchRefused(f"{target} is already behind the alias {sink.prefix}")
    documents, expected = sink.count_skus(index=target), expected_active(settings)
    if documents != expected:
        raise SwitchRefused(
            f"{target} is not complete: {documents} active documents for {expected} active "
            "SKUs in PostgreSQL; run a backfill with force over every live SKU (and let "
            "pending runs commit), then switch again"
        )
    actions = [{"remove": {"index": i, "alias": sink.prefix}} for i in current]
    actions.append({"add": {"index": target, "alias": sink.prefix}})
    # one request: Elasticsearch applies every action or none (a concurrent switch that
    # moved the alias meanwhile makes a "remove" fail and nothing changes)
    sink.es.request("switch alias", lambda: sink.client.indices.update_aliases(actions=actions))
    log.info("alias %s: %s -> %s (%d documents)", sink.prefix, current or "none", target, documents)
    dropped = drop(settings, current, sink=sink)["dropped"] if drop_old and current else []
    return {
        "alias": sink.prefix,
        "active": target,
        "retired": current,
        "dropped": dropped,
        "documents": documents,
        "expected": expected,
    }


def drop(
    settings: Settings | None = None,
    names: list[str] | None = None,
    *,
    all_retired: bool = False,
    force: bool = False,
    sink: ElasticsearchTagSink | None = None,
) -> dict:
    """Delete retired version indexes (building only with ``force``, active never)."""
    settings = settings or load_settings()
    sink = _sink(sink)
    states = {r["index"]: r["state"] for r in versions(settings, sink=sink)["indexes"]}
    names = list(names or [])
    if all_retired:
        names += [n for n, s in states.items() if s == "retired" and n not in names]
    for name in names:
        if name not in states:
            raise SwitchRefused(
                f"no version index {name!r} of {sink.prefix} (see `es-index versions`)"
            )
        if states[name] == "active":
            raise SwitchRefused(f"{name} is behind the alias {sink.prefix}; switch first")
        if states[name] == "building" and not force:
            raise SwitchRefused(
                f"{name} is the configured taxonomy's index (workers write "
                "to it); pass --force to drop it anyway"
            )
    for name in names:
        sink.es.request("drop index", lambda name=name: sink.client.indices.delete(index=name))
        log.info("dropped Elasticsearch index %s (%s)", name, states[name])
    return {"dropped": names}
