"""What the quality checks need beyond plain SQL, and the numbers the report shows.

* freshness: SKUs of the source (as its mapping reads it) changed up to the run's upper
  bound whose content the platform has not processed (judged by the content hashes of
  :mod:`enrichment.cdc.detect`, so a row touched without a real change is fresh);
* judged keys: on a catalogue larger than ``source_sample``, freshness and orphans read
  the run's own SKUs and a random sample of the source's and the platform's, not every
  document (:func:`judged_keys`);
* store counts: SKUs held by the configured tag and vector stores, through their
  backends (a backend with ``count_skus()`` is asked; the PostgreSQL and pgvector stores
  are counted in their tables), and by every tag sink (``ENRICHMENT_TAG_SINKS``)
  and vector sink (``ENRICHMENT_VECTOR_SINKS``);
* report data: coverage by category, value distributions, confidence histograms,
  quarantine reasons with sample SKUs, precision, drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from enrichment.cdc import detect as changes
from enrichment.cdc import documents, refresh, source
from enrichment.cdc.capture.keys import keys_from
from enrichment.config import Settings
from enrichment.config.tags import TagSettings
from enrichment.config.vectors import VectorSettings
from enrichment.quality.sql import (
    accuracy_query,
    coverage_query,
    current_distribution_query,
    drift_query,
)
from enrichment.tagging.taxonomy import Taxonomy

SAMPLES = 5


def no_image_hash() -> str:
    """The ``image_hash`` of a product without images."""
    return changes.ProductSnapshot(sku="", product_id=None, active=True).image_hash


def table_exists(cur, name: str) -> bool:
    cur.execute("SELECT to_regclass(%s)", (name,))
    return cur.fetchone()[0] is not None


def vector_indexes(cur, s: str, kinds: tuple[str, ...]) -> tuple[dict[str, str | None], list[str]]:
    """(active index name per configured kind, every non-retired index name)."""
    cur.execute(
        f"SELECT name, kind, state FROM {s}.vector_indexes WHERE state <> 'retired' ORDER BY name"
    )
    rows = cur.fetchall()
    active = {
        k: next((n for n, kind, st in rows if kind == k and st == "active"), None) for k in kinds
    }
    return active, [n for n, _, _ in rows]


# ---------------------------------------------------------------------- judged keys
@dataclass(frozen=True)
class JudgedKeys:
    """The SKUs freshness and orphans read on a large catalogue, and where they came from."""

    keys: frozenset[str]
    run_skus: int  # the run's own change set
    sample: int  # SKUs drawn at random from the source and from the platform's active ones
    documents: int  # keys of the source's root table

    def summary(self) -> dict:
        """What the report records of the sample."""
        return {
            "judged": len(self.keys),
            "run_skus": self.run_skus,
            "sample": self.sample,
            "documents": self.documents,
        }

    def note(self) -> str:
        return (
            f"Freshness and orphans judged on {len(self.keys):,} SKUs: the run's "
            f"{self.run_skus:,} changed SKUs and a random sample of {self.sample:,} of the "
            f"source's {self.documents:,} (and of the platform's active ones), not every "
            "document (ENRICHMENT_QUALITY_SOURCE_SAMPLE=0 reads them all)."
        )


def judged_keys(conn, settings: Settings, run_id: str | None, sample: int) -> JudgedKeys | None:
    """The SKUs to judge freshness and orphans on, or None for every document (sampling
    off, or a catalogue no larger than ``sample``).

    The sample costs one pass over the key column of the mapping's root table in the
    shop's database; the documents are then read by key, like a day's changes.
    """
    if sample <= 0:
        return None
    mapping = source.mapping_for(settings)
    root = mapping.tables[0]
    with source.source_connection(settings) as src, src.cursor() as cur:
        cur.execute(
            f"SELECT key, count(*) OVER () FROM ({keys_from(root, root.name)}) AS all_keys(key) "
            "ORDER BY random() LIMIT %s",
            (sample,),
        )
        drawn = cur.fetchall()
    total = drawn[0][1] if drawn else 0
    if total <= sample:
        return None
    s = settings.state_schema
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT sku FROM {s}.product_state WHERE active ORDER BY random() LIMIT %s",
            (sample,),
        )
        active = [r[0] for r in cur.fetchall()]
        cur.execute(f"SELECT sku FROM {s}.run_items WHERE run_id = %s", (run_id,))
        own = [r[0] for r in cur.fetchall()]
    keys = frozenset(k for k, _ in drawn) | frozenset(active) | frozenset(own)
    return JudgedKeys(keys, len(own), sample, int(total))


# ------------------------------------------------------------------------ freshness
def _stale(sku: str, change: str, ts) -> dict:
    return {
        "sku": sku,
        "change": change,
        "updated_at": ts.isoformat() if ts else None,
        "fresh": False,
    }


def _freshness_candidates(
    conn, settings: Settings, upper, keys: frozenset[str] | None = None
) -> tuple[list[dict], set[str], int]:
    """(stale rows of the source documents changed <= ``upper``, every SKU the source
    holds, how many documents were judged); with ``keys``, only those SKUs' documents.

    Each document, as the mapping reads it, is classified against what the platform
    processed (the content hashes of :mod:`enrichment.cdc.detect`), so a change that
    skipped every timestamp is stale too; documents updated after the bound are not judged.
    """
    rows: list[dict] = []
    population, seen, batch = 0, set(), []

    def flush() -> None:
        state = changes.load_state(conn, settings.state_schema, [b.sku for b in batch])
        for snap in batch:
            cls = changes.classify(snap, state.get(snap.sku))
            if cls != changes.UNCHANGED:
                change = "never processed" if cls == changes.NEW else cls
                rows.append(_stale(snap.sku, change, snap.source_updated_at))
        batch.clear()

    with source.source_connection(settings) as src:
        mapping = source.mapping_for(settings)
        if keys is None:
            docs = documents.scan_documents(src, mapping)
        else:
            docs = documents.read_documents(src, mapping, keys)
        for snap in docs:
            seen.add(snap.sku)
            if snap.source_updated_at is not None and snap.source_updated_at > upper:
                continue
            population += 1
            batch.append(snap)
            if len(batch) >= 2000:
                flush()
        flush()
    return rows, seen, population


def freshness_rows(
    conn, settings: Settings, upper, keys: frozenset[str] | None = None
) -> tuple[list[dict], int]:
    """(one row per stale SKU, count of source documents changed <= upper), over every
    document or only those of ``keys`` (:func:`judged_keys`).

    Documents are judged through the source mapping (:func:`_freshness_candidates`);
    SKUs active in the platform state with no document are stale deletes.
    """
    rows, seen, population = _freshness_candidates(conn, settings, upper, keys)
    active = refresh.active_state_keys(conn, settings.state_schema, keys)
    rows += [_stale(sku, "deleted", None) for sku in sorted(set(active) - seen)]
    rows.sort(key=lambda r: (r["fresh"], r["sku"]))
    return rows, int(population)


def orphan_rows(
    conn, settings: Settings, vector_tables: list[str], keys: frozenset[str] | None = None
):
    """(kind, store, sku, state) of every store entry (or those of ``keys``); state from
    the source documents."""
    import pandas as pd

    s = settings.state_schema
    with source.source_connection(settings) as src:
        states = documents.key_states(src, source.mapping_for(settings), keys)
    where = "" if keys is None else " WHERE sku = ANY(%(keys)s)"
    parts = [
        f"SELECT DISTINCT 'tag_store', 'tags', sku FROM {s}.tags{where}",
        f"SELECT 'tag_store', 'product_docs', sku FROM {s}.product_docs{where}",
    ] + [
        f"SELECT 'vector_store', 'vec_{name}', sku FROM {s}.vec_{name}{where}"
        for name in vector_tables
    ]
    with conn.cursor() as cur:
        cur.execute(" UNION ALL ".join(parts), {"keys": sorted(keys or ())})
        entries = cur.fetchall()
    rows = [
        (kind, store, sku, "active" if states.get(sku) else "unknown" if sku not in states
         else "deleted")
        for kind, store, sku in entries
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["kind", "store", "sku", "state"])


# --------------------------------------------------------------------- store counts
def store_counts(
    cur, settings: Settings, url: str, indexes: dict[str, str | None], expected: dict[str, int]
) -> tuple[list[dict], list[str]]:
    """(rows ``store, backend, expected, actual``, notes on stores that cannot count)."""
    from enrichment.tags.factory import tag_store_from_settings
    from enrichment.tags.store import PostgresTagStore
    from enrichment.vectors.factory import vector_store_from_settings
    from enrichment.vectors.store import PgVectorStore

    s = settings.state_schema
    rows, notes = [], []
    tags = tag_store_from_settings(settings, url)
    sinks = getattr(tags, "sinks", [])  # a MirroredTagStore: primary + production sinks
    tags = getattr(tags, "primary", tags)
    backend = TagSettings.from_env().store
    if hasattr(tags, "count_skus"):
        actual = tags.count_skus()
    elif isinstance(tags, PostgresTagStore):
        cur.execute(f"SELECT count(*) FROM {s}.product_docs WHERE active")
        actual = cur.fetchone()[0]
    else:
        actual = None
        notes.append(f"tag store backend {backend!r} cannot report its SKU count")
    if actual is not None:
        rows.append(
            {
                "store": "tag store",
                "backend": backend,
                "expected": expected["active"],
                "actual": int(actual),
            }
        )
    for sink in sinks:  # e.g. Elasticsearch: active documents behind its read alias
        rows.append(
            {
                "store": f"tag sink ({sink.name})",
                "backend": sink.name,
                "expected": expected["active"],
                "actual": int(sink.count_skus()),
            }
        )
    vectors = vector_store_from_settings(settings, url)
    vector_sinks = getattr(vectors, "sinks", [])  # a MirroredVectorStore: pgvector + sinks
    vectors = getattr(vectors, "primary", vectors)
    backend = VectorSettings.from_env().store
    for kind, name in sorted(indexes.items()):
        if hasattr(vectors, "count_skus"):
            actual = vectors.count_skus(kind)
        elif isinstance(vectors, PgVectorStore):
            actual = 0
            if name:
                cur.execute(f"SELECT count(*) FROM {s}.vec_{name}")
                actual = cur.fetchone()[0]
        else:
            notes.append(f"vector store backend {backend!r} cannot report its SKU count")
            continue
        rows.append(
            {
                "store": f"vector store ({kind})",
                "backend": backend,
                "expected": expected[kind],
                "actual": int(actual),
            }
        )
    for sink in vector_sinks:  # e.g. Pinecone: vectors in the active version's namespace
        for kind in sorted(indexes):
            rows.append(
                {
                    "store": f"vector sink {sink.name} ({kind})",
                    "backend": sink.name,
                    "expected": expected[kind],
                    "actual": int(sink.count_skus(kind)),
                }
            )
    return rows, notes


def expected_vector_counts(cur, s: str, kinds: tuple[str, ...]) -> dict[str, int]:
    """Active SKUs that should have a vector of each kind (images: usable ones only)."""
    cur.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE image_hash IS DISTINCT FROM %s
                   AND NOT EXISTS (SELECT 1 FROM {s}.quarantine q WHERE q.sku = a.sku))
              FROM {s}.product_state a WHERE a.active""",
        (no_image_hash(),),
    )
    active, image = cur.fetchone()
    out = {"active": int(active), "text": int(active), "image": int(image)}
    return out | {k: int(active) for k in kinds if k not in out}


# ----------------------------------------------------------------------- report data
def coverage_matrix(cur, s: str, taxonomy: Taxonomy) -> list[dict]:
    cur.execute(
        f"SELECT category, attribute, count(*), sum(tagged) "
        f"FROM ({coverage_query(s, taxonomy)}) c GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return [
        {"category": c, "attribute": a, "applicable": int(n), "tagged": int(t)}
        for c, a, n, t in cur.fetchall()
    ]


def distributions(cur, s: str, previous_run: str | None) -> list[dict]:
    cur.execute(current_distribution_query(s) + " ORDER BY 1, 3 DESC, 2")
    current = cur.fetchall()
    prev: dict[tuple[str, str], int] = {}
    if previous_run:
        cur.execute(
            f"SELECT attribute, value, n FROM {s}.tag_distributions WHERE run_id = %s",
            (previous_run,),
        )
        prev = {(a, v): n for a, v, n in cur.fetchall()}
    return [
        {"attribute": a, "value": v, "n": int(n), "previous": prev.get((a, v))}
        for a, v, n in current
    ]


def confidence_histograms(cur, s: str, bins: int = 10) -> dict[str, list[int]]:
    cur.execute(
        f"""SELECT t.attribute, least(width_bucket(t.confidence, 0, 1, %s), %s) AS b, count(*)
              FROM {s}.tags t JOIN {s}.product_state a ON a.sku = t.sku AND a.active
             WHERE t.confidence BETWEEN 0 AND 1 GROUP BY 1, 2""",
        (bins, bins),
    )
    out: dict[str, list[int]] = {}
    for attribute, b, n in cur.fetchall():
        out.setdefault(attribute, [0] * bins)[int(b) - 1] += int(n)
    return dict(sorted(out.items()))


def quarantine_reasons(cur, s: str) -> list[dict]:
    cur.execute(
        f"""SELECT q.reason, count(*), (array_agg(q.sku ORDER BY q.sku))[1:%s],
                   (array_agg(coalesce(q.detail, '') ORDER BY q.sku))[1:1]
              FROM {s}.quarantine q JOIN {s}.product_state a ON a.sku = q.sku AND a.active
             GROUP BY 1 ORDER BY 2 DESC, 1""",
        (SAMPLES,),
    )
    return [
        {"reason": r, "count": int(n), "samples": list(skus), "example": (ex or [""])[0]}
        for r, n, skus, ex in cur.fetchall()
    ]


def accuracy_table(cur, s: str, golden: dict) -> list[dict]:
    cur.execute(
        f"SELECT attribute, count(*), sum(correct) FROM ({accuracy_query(s, golden)}) x "
        "GROUP BY 1 ORDER BY 1"
    )
    return [{"attribute": a, "emitted": int(n), "correct": int(c)} for a, n, c in cur.fetchall()]


def drift_table(cur, s: str, previous_run: str) -> dict[str, float]:
    cur.execute(drift_query(s, previous_run) + " ORDER BY 1")
    return {a: float(psi) for a, psi in cur.fetchall()}


def distribution_totals(cur, s: str, run_id: str | None) -> dict[str, int]:
    """Tags per attribute: of active SKUs now (``run_id`` None), or in a run's snapshot."""
    if run_id is None:
        cur.execute(f"SELECT attribute, sum(n) FROM ({current_distribution_query(s)}) d GROUP BY 1")
    else:
        cur.execute(
            f"SELECT attribute, sum(n) FROM {s}.tag_distributions WHERE run_id = %s GROUP BY 1",
            (run_id,),
        )
    return {a: int(n) for a, n in cur.fetchall()}


def record_distribution(cur, s: str, run_id: str) -> None:
    """Snapshot the run's tag value distribution (the next run's drift baseline)."""
    cur.execute(f"DELETE FROM {s}.tag_distributions WHERE run_id = %s", (run_id,))
    cur.execute(
        f"INSERT INTO {s}.tag_distributions (run_id, attribute, value, n) "
        f"SELECT %s, attribute, value, n FROM ({current_distribution_query(s)}) d",
        (run_id,),
    )
