"""``status --json``: the platform's state in one JSON object (contract: docs/contracts.md)."""

from __future__ import annotations

from enrichment.cdc import documents, source
from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.runs import fencing


def platform_status(settings: Settings | None = None) -> dict:
    """Counts of products, tags, vectors, orphans, quarantine, and the last run."""
    settings = settings or load_settings()
    url = database_url(settings)
    s = settings.state_schema
    out: dict = {}
    with source.source_connection(settings) as src:  # the source as the mapping sees it
        states = documents.key_states(src, source.mapping_for(settings))
    live = {k for k, active in states.items() if active}
    with connect(url) as conn, conn.cursor() as cur:
        out.update(_product_counts(cur, s, states, live))
        out.update(_tag_counts(cur, s, live))
        out.update(_vector_counts(cur, s, live, list(settings.vector_kinds)))
        out.update(_run_state(cur, s))
    sinks = _sink_counts()
    if sinks:
        out["sinks"] = sinks
    from enrichment.vectors.factory import sink_status

    vector_sinks = sink_status(settings, url)  # {"pinecone": {kind: namespace, vectors}}
    if vector_sinks:
        out.setdefault("sinks", {}).update(vector_sinks)
    return out


def _product_counts(cur, s: str, states: dict[str, bool], live: set[str]) -> dict:
    """Active and soft-deleted documents of the source; SKUs the platform processed that
    the source no longer holds (hard deletes)."""
    out: dict = {"products_active": len(live), "products_deleted": len(states) - len(live)}
    cur.execute(f"SELECT sku FROM {s}.product_state")
    out["products_hard_deleted"] = sum(1 for (sku,) in cur.fetchall() if sku not in states)
    return out


def _tag_counts(cur, s: str, live: set[str]) -> dict:
    cur.execute(f"SELECT DISTINCT sku FROM {s}.tags")
    tagged = {r[0] for r in cur.fetchall()}
    return {"tagged_active": len(tagged & live), "orphan_tags": len(tagged - live)}


def _vector_counts(cur, s: str, live: set[str], configured: list[str]) -> dict:
    """Active index versions, live products with a vector of every kind, orphan vectors."""
    out: dict = {}
    cur.execute(
        f"SELECT name, kind, model_id, dim FROM {s}.vector_indexes "
        "WHERE state = 'active' ORDER BY kind"
    )
    active = cur.fetchall()
    kinds = {k: n for n, k, _, _ in active}
    out["vector_indexes_active"] = [
        {"name": n, "kind": k, "model_id": m, "dim": d} for n, k, m, d in active
    ]
    if all(k in kinds for k in configured):
        having = set(live)
        for k in configured:
            cur.execute(f"SELECT sku FROM {s}.vec_{kinds[k]}")
            having &= {r[0] for r in cur.fetchall()}
        out["vectors_active"] = len(having)
    else:
        out["vectors_active"] = 0
    orphan = set()
    for name in _live_indexes(cur, s):  # active and building versions
        cur.execute(f"SELECT sku FROM {s}.vec_{name}")
        orphan.update(r[0] for r in cur.fetchall() if r[0] not in live)
    out["orphan_vectors"] = len(orphan)
    return out


def _run_state(cur, s: str) -> dict:
    """Quarantined images, watermarks, capture positions, the last committed run, runs in
    progress."""
    out: dict = {}
    cur.execute(f"SELECT count(*) FROM {s}.quarantine")
    out["quarantined"] = cur.fetchone()[0]
    cur.execute(f"SELECT name, ts, last_id, run_id FROM {s}.watermarks ORDER BY name")
    out["watermarks"] = [
        {"name": n, "ts": ts.isoformat(), "last_id": i, "run_id": r}
        for n, ts, i, r in cur.fetchall()
    ]
    cur.execute(f"SELECT name, mode, position, run_id FROM {s}.capture_positions ORDER BY 1")
    out["capture_positions"] = [
        {"name": n, "mode": m, "position": p, "run_id": r} for n, m, p, r in cur.fetchall()
    ]
    cur.execute(
        f"SELECT summary FROM {s}.runs WHERE status = 'committed' "
        "ORDER BY committed_at DESC LIMIT 1"
    )
    row = cur.fetchone()
    out["last_run"] = row[0] if row else None
    cur.execute(f"SELECT status, count(*) FROM {s}.runs GROUP BY status")
    by_status = dict(cur.fetchall())
    out["runs_in_progress"] = by_status.get("detected", 0)
    out["runs_superseded"] = by_status.get("superseded", 0)
    out["runs_abandoned"] = by_status.get("abandoned", 0)
    out["stale_runs"] = fencing.stale_runs(cur, s)[:20]  # newest first
    return out


def _sink_counts() -> dict:
    """``{sink: {"skus": n}}`` for the tag sinks of ``ENRICHMENT_TAG_SINKS`` (an
    unreachable sink reports ``skus: null`` and the error instead of failing status)."""
    from enrichment.tags.factory import tag_sinks_from_env

    out = {}
    for sink in tag_sinks_from_env():
        try:
            out[sink.name] = {"skus": sink.count_skus()}
        except Exception as exc:  # status reports a broken sink, it does not fail
            out[sink.name] = {"skus": None, "error": str(exc)}
    return out


def _live_indexes(cur, schema: str) -> set[str]:
    cur.execute(f"SELECT name FROM {schema}.vector_indexes WHERE state <> 'retired'")
    return {r[0] for r in cur.fetchall()}
