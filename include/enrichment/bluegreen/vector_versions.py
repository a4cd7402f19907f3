"""Blue/green re-embedding: list, fill, verify, switch and drop vector index versions.

A model (or text preparation) change makes the workers write to a new ``building``
version (:mod:`enrichment.vectors.sync`) while queries keep using the ``active`` one.

* ``fill`` (:mod:`enrichment.bluegreen.fill`) embeds every live product into the
  configured version, then builds the version's HNSW index;
* ``switch`` checks, in one transaction that blocks writes to the version and run
  commits, that the version holds a vector for exactly the live products of its kind
  (counts AND set equality; live = ``product_state`` active, and for images: with an
  image that is not quarantined), then retires the active version and activates it;
* ``drop`` deletes retired versions (a building one only with ``force``; never the
  active one).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from enrichment.cdc import detect as changes
from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.vectors.factory import vector_store_from_settings
from enrichment.vectors.records import VectorIndex
from enrichment.vectors.store import PgVectorStore

log = logging.getLogger(__name__)
EMPTY_IMAGE_HASH = changes.ProductSnapshot(sku="", product_id=None, active=True).image_hash


class SwitchRefused(RuntimeError):
    """The version is not complete (or not switchable); nothing was changed."""

    def __init__(self, message: str, coverage: Coverage | None = None):
        super().__init__(message)
        self.coverage = coverage


@dataclass
class Coverage:
    """How a version compares with the live products of its kind."""

    index: str
    kind: str
    expected: int
    present: int
    missing: int
    extra: int
    stale: int  # content hash differs from what the platform last processed
    missing_sample: list[str] = field(default_factory=list)
    extra_sample: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.extra == 0 and self.present == self.expected

    def to_dict(self) -> dict:
        return {**asdict(self), "complete": self.complete}


def _store(settings: Settings) -> PgVectorStore:
    return vector_store_from_settings(settings, database_url(settings))


def _expected_sql(settings: Settings, kind: str) -> str:
    s = settings.state_schema
    sql = (
        f"SELECT sku, {'text_hash' if kind == 'text' else 'image_hash'} AS h "
        f"FROM {s}.product_state WHERE active"
    )
    if kind == "image":
        sql += (
            f" AND image_hash IS DISTINCT FROM '{EMPTY_IMAGE_HASH}' AND sku NOT IN "
            f"(SELECT sku FROM {s}.quarantine)"
        )
    return sql


def coverage(cur, settings: Settings, index: VectorIndex, sample: int = 5) -> Coverage:
    """Compare ``index`` with the live products of its kind (one full join)."""
    table = index.table(settings.state_schema)
    expected = _expected_sql(settings, index.kind)
    cur.execute(
        f"""SELECT count(e.sku), count(v.sku),
                   count(*) FILTER (WHERE v.sku IS NULL),
                   count(*) FILTER (WHERE e.sku IS NULL),
                   count(*) FILTER (WHERE e.h IS DISTINCT FROM v.content_hash
                                      AND e.sku IS NOT NULL AND v.sku IS NOT NULL)
              FROM ({expected}) e FULL JOIN {table} v ON v.sku = e.sku"""
    )
    exp, present, missing, extra, stale = cur.fetchone()
    cov = Coverage(index.name, index.kind, exp, present, missing, extra, stale)
    if missing:
        cur.execute(
            f"SELECT e.sku FROM ({expected}) e WHERE NOT EXISTS (SELECT 1 FROM {table} "
            "v WHERE v.sku = e.sku) ORDER BY 1 LIMIT %s",
            (sample,),
        )
        cov.missing_sample = [r[0] for r in cur.fetchall()]
    if extra:
        cur.execute(
            f"SELECT v.sku FROM {table} v WHERE NOT EXISTS (SELECT 1 FROM ({expected}) "
            "e WHERE e.sku = v.sku) ORDER BY 1 LIMIT %s",
            (sample,),
        )
        cov.extra_sample = [r[0] for r in cur.fetchall()]
    return cov


def versions(settings: Settings | None = None) -> list[dict]:
    """Every index version with its state, size and coverage of the live products."""
    settings = settings or load_settings()
    store = _store(settings)
    out = []
    with connect(store.url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT name, created_at, activated_at FROM {settings.state_schema}.vector_indexes"
        )
        times = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
        for index in store.indexes():
            cov = coverage(cur, settings, index)
            out.append(
                {
                    "name": index.name,
                    "kind": index.kind,
                    "model_id": index.model_id,
                    "prep_version": index.prep_version,
                    "dim": index.dim,
                    "state": index.state,
                    "vectors": cov.present,
                    "created_at": times[index.name][0].isoformat(),
                    "activated_at": times[index.name][1].isoformat()
                    if times[index.name][1]
                    else None,
                    "hnsw": store.has_hnsw(index),
                    "coverage": cov.to_dict(),
                }
            )
    return out


def switch(
    settings: Settings | None = None,
    *,
    kind: str = "text",
    name: str | None = None,
    drop_old: bool = False,
) -> dict:
    """Verify a version of ``kind`` and make it the active one atomically."""
    settings = settings or load_settings()
    store = _store(settings)
    target = _switch_target(store, kind, name)
    with connect(store.url) as conn, conn.cursor() as cur:  # cheap early refusal
        _require_complete(coverage(cur, settings, target))
    store.build_hnsw(target)  # outside the switch transaction: may take minutes
    _require_sinks_complete(store, target)
    cov, retired = _activate(store, settings, target)
    if getattr(store, "switched", None):  # vector sinks (e.g. Pinecone) follow the switch
        store.switched(kind, target.name, retired)
    if cov.stale:
        log.warning(
            "%s: %d vectors were embedded from content newer than the last committed "
            "run; the next run leaves them as they are",
            target.name,
            cov.stale,
        )
    log.info("switched %s: %s active, retired %s", kind, target.name, retired or "none")
    dropped = drop(settings, retired)["dropped"] if drop_old and retired else []
    return {
        "kind": kind,
        "active": target.name,
        "retired": retired,
        "dropped": dropped,
        "coverage": cov.to_dict(),
    }


def _switch_target(store, kind: str, name: str | None) -> VectorIndex:
    """The version to activate: ``name``, or the one building version of ``kind``."""
    candidates = [
        i for i in store.indexes(kind) if (i.name == name if name else i.state == "building")
    ]
    if not candidates:
        raise SwitchRefused(
            f"no {'index ' + name if name else 'building ' + kind + ' index'} "
            "to switch to (see `index versions`)"
        )
    if len(candidates) > 1:
        raise SwitchRefused(
            f"several building {kind} indexes ("
            f"{', '.join(i.name for i in candidates)}); pass --name"
        )
    target = candidates[0]
    if target.kind != kind:
        raise SwitchRefused(f"{target.name} is a {target.kind} index, not {kind}")
    if target.state == "active":
        raise SwitchRefused(f"{target.name} is already active")
    return target


def _activate(store, settings: Settings, target: VectorIndex) -> tuple[Coverage, list[str]]:
    """In one transaction: re-verify ``target`` under locks, retire the active version of
    its kind and activate ``target``. Returns its coverage and the retired names."""
    s, kind = settings.state_schema, target.kind
    with connect(store.url) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"vecidx:{kind}",))
        cur.execute(
            f"SELECT state FROM {s}.vector_indexes WHERE name = %s FOR UPDATE", (target.name,)
        )
        row = cur.fetchone()
        if row is None or row[0] == "active":
            raise SwitchRefused(f"{target.name} was dropped or activated meanwhile")
        cur.execute(f"LOCK TABLE {target.table(s)} IN SHARE MODE")
        cur.execute(f"LOCK TABLE {s}.product_state IN SHARE MODE")
        cov = _require_complete(coverage(cur, settings, target))
        cur.execute(
            f"UPDATE {s}.vector_indexes SET state = 'retired' WHERE kind = %s AND "
            "state = 'active' RETURNING name",
            (kind,),
        )
        retired = [r[0] for r in cur.fetchall()]
        cur.execute(
            f"UPDATE {s}.vector_indexes SET state = 'active', activated_at = "
            "clock_timestamp() WHERE name = %s",
            (target.name,),
        )
    return cov, retired


def _require_complete(cov: Coverage) -> Coverage:
    if not cov.complete:
        raise SwitchRefused(
            f"{cov.index} is not complete: {cov.present} vectors for {cov.expected} live "
            f"products, {cov.missing} missing (e.g. {', '.join(cov.missing_sample) or '-'}), "
            f"{cov.extra} not live (e.g. {', '.join(cov.extra_sample) or '-'}); run "
            "`index fill` (and let pending runs commit), then switch again",
            cov,
        )
    return cov


def _require_sinks_complete(store: PgVectorStore, target: VectorIndex) -> None:
    """Refuse the switch while a vector sink's copy of ``target`` differs from pgvector."""
    problems = store.sink_problems(target) if hasattr(store, "sink_problems") else []
    if problems:
        raise SwitchRefused(
            f"{target.name} is complete in pgvector but not in its vector sinks: "
            f"{'; '.join(problems)}. Run `python -m enrichment vector-sinks sync --name "
            f"{target.name}`, then switch again (sink counts can lag writes by seconds)"
        )


def drop(
    settings: Settings | None = None,
    names: list[str] | None = None,
    *,
    force: bool = False,
    all_retired: bool = False,
) -> dict:
    """Drop retired versions (building ones only with ``force``, active ones never)."""
    settings = settings or load_settings()
    store = _store(settings)
    indexes = {i.name: i for i in store.indexes()}
    names = list(names or [])
    if all_retired:
        names += [n for n, i in indexes.items() if i.state == "retired" and n not in names]
    for n in names:
        if n not in indexes:
            raise SwitchRefused(f"no index version {n!r} (see `index versions`)")
        if indexes[n].state == "active":
            raise SwitchRefused(
                f"{n} is the active {indexes[n].kind} index; switch to another version first"
            )
        if indexes[n].state == "building" and not force:
            raise SwitchRefused(
                f"{n} is building (a re-embed in progress); pass --force to abandon it"
            )
    for n in names:
        store.drop_index(n)
        log.info("dropped index version %s (%s)", n, indexes[n].state)
    return {"dropped": names}
