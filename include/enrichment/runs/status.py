"""``status --json``: the platform's state in one JSON object (contract: docs/contracts.md)."""

from __future__ import annotations

from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.runs import fencing


def platform_status(settings: Settings | None = None) -> dict:
    """Counts of products, tags, vectors, orphans, quarantine, and the last run."""
    settings = settings or load_settings()
    url = database_url(settings)
    s, src = settings.state_schema, settings.source_schema
    out: dict = {}
    with connect(url) as conn, conn.cursor() as cur:
        out.update(_product_counts(cur, src))
        out.update(_tag_counts(cur, s, src))
        out.update(_vector_counts(cur, s, src, list(settings.vector_kinds)))
        out.update(_run_state(cur, s))
    sinks = _sink_counts()
    if sinks:
        out["sinks"] = sinks
    from enrichment.vectors.factory import sink_status

    vector_sinks = sink_status(settings, url)  # {"pinecone": {kind: namespace, vectors}}
    if vector_sinks:
        out.setdefault("sinks", {}).update(vector_sinks)
    return out


def _product_counts(cur, src: str) -> dict:
    out: dict = {}
    cur.execute(
        f"SELECT count(*) FILTER (WHERE NOT is_deleted), "
        f"count(*) FILTER (WHERE is_deleted) FROM {src}.products"
    )
    out["products_active"], out["products_deleted"] = cur.fetchone()
    out["products_hard_deleted"] = 0
    if _exists(cur, f"{src}.product_tombstones"):
        cur.execute(
            f"SELECT count(DISTINCT sku) FROM {src}.product_tombstones t WHERE NOT "
            f"EXISTS (SELECT 1 FROM {src}.products p WHERE p.sku = t.sku)"
        )
        out["products_hard_deleted"] = cur.fetchone()[0]
    return out


def _tag_counts(cur, s: str, src: str) -> dict:
    out: dict = {}
    cur.execute(f"""SELECT count(DISTINCT t.sku) FROM {s}.tags t
                     JOIN {src}.products p ON p.sku = t.sku AND NOT p.is_deleted""")
    out["tagged_active"] = cur.fetchone()[0]
    cur.execute(f"""SELECT count(DISTINCT t.sku) FROM {s}.tags t WHERE NOT EXISTS
                    (SELECT 1 FROM {src}.products p WHERE p.sku = t.sku AND NOT p.is_deleted)""")
    out["orphan_tags"] = cur.fetchone()[0]
    return out


def _vector_counts(cur, s: str, src: str, configured: list[str]) -> dict:
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
        joins = " ".join(
            f"JOIN {s}.vec_{kinds[k]} v{i} ON v{i}.sku = p.sku" for i, k in enumerate(configured)
        )
        cur.execute(f"SELECT count(*) FROM {src}.products p {joins} WHERE NOT p.is_deleted")
        out["vectors_active"] = cur.fetchone()[0]
    else:
        out["vectors_active"] = 0
    orphan = set()
    for name in _live_indexes(cur, s):  # active and building versions
        cur.execute(f"""SELECT v.sku FROM {s}.vec_{name} v WHERE NOT EXISTS
             (SELECT 1 FROM {src}.products p WHERE p.sku = v.sku AND NOT p.is_deleted)""")
        orphan.update(r[0] for r in cur.fetchall())
    out["orphan_vectors"] = len(orphan)
    return out


def _run_state(cur, s: str) -> dict:
    """Quarantined images, watermarks, the last committed run, runs in progress."""
    out: dict = {}
    cur.execute(f"SELECT count(*) FROM {s}.quarantine")
    out["quarantined"] = cur.fetchone()[0]
    cur.execute(f"SELECT name, ts, last_id, run_id FROM {s}.watermarks ORDER BY name")
    out["watermarks"] = [
        {"name": n, "ts": ts.isoformat(), "last_id": i, "run_id": r}
        for n, ts, i, r in cur.fetchall()
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


def _exists(cur, name: str) -> bool:
    cur.execute("SELECT to_regclass(%s)", (name,))
    return cur.fetchone()[0] is not None


def _live_indexes(cur, schema: str) -> set[str]:
    cur.execute(f"SELECT name FROM {schema}.vector_indexes WHERE state <> 'retired'")
    return {r[0] for r in cur.fetchall()}
