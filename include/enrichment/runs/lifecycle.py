"""Runs: detect a change set, split it into shards, commit when every shard succeeded.

A run is bounded by its upper time (the data-interval end) so a retry sees the same
input. ``detect`` is idempotent per run id: a run already detected returns its shards.
``commit`` checks every shard result, then in ONE transaction records what was
processed in ``product_state``, advances the watermark (incremental runs only, forward
only) and marks the run committed. A fenced run (superseded or abandoned, see
:mod:`enrichment.runs.fencing`) is refused; SKUs a newer run holds are left to it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime

from psycopg2.extras import Json

from enrichment.cdc import detect as changes
from enrichment.cdc import documents, refresh, source
from enrichment.cdc.capture import positions
from enrichment.cdc.capture.factory import capture_for
from enrichment.cdc.detect import DELETED, UNCHANGED, ChangeItem, ProductSnapshot
from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.runs import fencing
from enrichment.runs.errors import RunError, RunFenced
from enrichment.runs.manifests import ManifestWriter
from enrichment.runs.shard_store import ShardStore

log = logging.getLogger(__name__)
_COMMIT_LOCK = 7_240_002  # advisory lock: commits (and their fencing checks) serialise


__all__ = ["RunError", "RunFenced", "build_summary", "commit", "detect", "format_summary"]


class PastIntervalError(RunError):
    """An incremental run for a past interval without a known interval start."""


def _get_run(cur, schema: str, run_id: str) -> dict | None:
    cur.execute(
        f"SELECT run_id, kind, status, lower_ts, upper_ts, params, shards, counts, summary, "
        f"started_at, committed_at FROM {schema}.runs WHERE run_id = %s",
        (run_id,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    keys = (
        "run_id",
        "kind",
        "status",
        "lower_ts",
        "upper_ts",
        "params",
        "shards",
        "counts",
        "summary",
        "started_at",
        "committed_at",
    )
    return dict(zip(keys, row, strict=True))


MAX_PROBLEMS = 100  # input problems listed in a run's record (all are counted)


def _note_problems(found: list[dict], problems: list, counts: Counter) -> None:
    for p in found:
        counts[f"input_{p['problem']}"] += 1
        log.warning("input problem: %s %r = %r", p["field"], p["sku"], p["value"])
    problems.extend(found[: max(0, MAX_PROBLEMS - len(problems))])


def _classify_all(
    conn,
    schema: str,
    snapshots,
    force: bool,
    counts: Counter,
    emit,
    batch: int = 2000,
    *,
    problems: list | None = None,
) -> None:
    """Classify source documents against the platform's state, ``emit`` each change;
    flag bad rows (field named).

    ``snapshots`` come grouped by key (the document readers order by it). Of several
    documents with one key the active one is used (a SKU re-created with a new id); two
    active ones are ``duplicate_sku`` (the first is used). A negative stock is
    ``negative_stock``. Flags never stop the run.
    """
    pending: list[ProductSnapshot] = []
    problems = [] if problems is None else problems

    def flush() -> None:
        _note_problems(
            [
                {
                    "sku": s.sku,
                    "field": "document.stock",
                    "problem": "negative_stock",
                    "value": s.stock,
                }
                for s in pending
                if isinstance(s.stock, int | float) and s.stock < 0
            ],
            problems,
            counts,
        )
        state = changes.load_state(conn, schema, [s.sku for s in pending])
        for snap in pending:
            cls = changes.classify(snap, state.get(snap.sku), force=force)
            counts[cls] += 1
            if cls != UNCHANGED:
                emit(changes.to_item(snap, cls))
        pending.clear()

    def take(group: list[ProductSnapshot]) -> None:
        active = [g for g in group if g.active]
        if len(active) > 1:
            dup = {"sku": group[0].sku, "field": "document.sku", "problem": "duplicate_sku"}
            _note_problems([{**dup, "value": [g.product_id for g in active]}], problems, counts)
        pending.append(active[0] if active else group[0])
        if len(pending) >= batch:
            flush()

    group: list[ProductSnapshot] = []
    for snap in snapshots:
        if group and snap.sku != group[0].sku:
            take(group)
            group = []
        group.append(snap)
    if group:
        take(group)
    flush()


def detect(
    run_id: str,
    upper: datetime,
    *,
    kind: str = "incremental",
    selection: dict | None = None,
    settings: Settings | None = None,
    interval_start: datetime | None = None,
) -> dict:
    """Detect (or return the already detected) change set of ``run_id``.

    An incremental run whose ``upper`` is not after the last committed incremental run
    (a backfill or a trigger with a past logical date) re-reads, through the mapping,
    what changed in ``[interval_start, upper]`` and leaves the capture position alone;
    without ``interval_start`` it raises :class:`PastIntervalError`.

    ``selection`` (backfills): ``skus``, ``category``, ``since``, ``until``, ``force``,
    ``reconcile``. Returns the run record with ``shards`` (count) and ``counts``.
    """
    settings = settings or load_settings()
    schema = settings.state_schema
    selection = selection or {}
    store = ShardStore.from_settings(settings)
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        existing = _get_run(cur, schema, run_id)
        if existing:
            log.info("run %s already detected (%s): %d shards", run_id, existing["status"],
                     existing["shards"])  # fmt: skip
            return existing
        counts: Counter = Counter()
        lower = None  # capture modes keep their own position (capture_positions)
        problems: list[dict] = []
        past = kind == "incremental" and _past_interval(cur, schema, upper, interval_start)
        if past:
            lower = (interval_start, -1)
        _insert_run(cur, schema, run_id, kind, lower, upper)
        capture = None
        with ManifestWriter(
            cur, schema, store, run_id, settings.shard_size, settings.max_shards
        ) as writer:
            if past:
                window = {"since": interval_start, "until": upper}
                _selected_changes(conn, settings, window, upper, counts, problems, writer)
            elif kind == "incremental":
                capture = _capture_changes(conn, settings, upper, counts, problems, writer)
            else:
                _selected_changes(conn, settings, selection, upper, counts, problems, writer)
            shard_count = writer.close()
        params = _run_params(selection, capture, past, store.root, problems)
        cur.execute(
            f"UPDATE {schema}.runs SET params = %s, shards = %s, counts = %s WHERE run_id = %s",
            (Json(params), shard_count, Json(dict(counts)), run_id),
        )
        run = _get_run(cur, schema, run_id)
    found = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    log.info("run %s detected: %s; %d items in %d shards (window %s .. %s)", run_id, found,
             writer.count, shard_count, run["lower_ts"], upper)  # fmt: skip
    return run


def _run_params(
    selection: dict, capture: dict | None, past: bool, shard_store: str, problems: list
) -> dict:
    """A detected run's ``params``: how its change set was found, JSON-ready."""
    return {
        "selection": {
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in selection.items()
        },
        "watermark": None,
        "capture": capture,
        "past_interval": past,
        "shard_store": shard_store,
        "input_problems": problems,
    }


def _past_interval(cur, schema: str, upper: datetime, interval_start: datetime | None) -> bool:
    """Whether ``upper`` is not after the last committed live incremental run's bound."""
    cur.execute(
        f"""SELECT max(upper_ts) FROM {schema}.runs WHERE kind = 'incremental'
               AND status = 'committed'
               AND NOT coalesce((params->>'past_interval')::boolean, false)"""
    )
    last = cur.fetchone()[0]
    if last is None or upper > last:
        return False
    if interval_start is None or interval_start >= upper:
        raise PastIntervalError(
            f"this run's upper bound {upper.isoformat()} is not after the last committed "
            f"run's {last.isoformat()} and it has no data interval start to re-process; "
            "trigger catalog_backfill (selection updated_between) for a past period"
        )
    log.warning(
        "past interval: upper bound %s is not after %s; re-processing what changed in "
        "%s .. %s without moving the capture position",
        upper.isoformat(),
        last.isoformat(),
        interval_start.isoformat(),
        upper.isoformat(),
    )
    return True


def _capture_changes(
    conn, settings: Settings, upper: datetime, counts: Counter, problems: list, sink
) -> dict:
    """Keys changed since the committed capture position, re-read and classified into
    ``sink``; returns the capture position to commit."""
    mapping = source.mapping_for(settings)
    name = positions.position_name(mapping.name, settings.capture_mode)
    with conn.cursor() as cur:
        position = positions.load(cur, settings.state_schema, name)
    with source.source_connection(settings) as src:
        capture = capture_for(mapping, settings, source.source_url(settings))
        captured = capture.read(src, position, upper)
        found = refresh.Refresh(src, conn, settings.state_schema, mapping, captured)
        _classify_all(
            conn,
            settings.state_schema,
            found.snapshots(),
            False,
            counts,
            sink.add,
            problems=problems,
        )
        if added := sink.add_new(found.deleted()):
            counts[DELETED] += added
    log.info(
        "capture %s: %d keys%s %s",
        captured.mode,
        len(captured.keys),
        " (full read)" if captured.full else "",
        captured.info,
    )
    since = (position or {}).get("upper")  # where the previous committed run stopped
    return {"name": name, "mode": captured.mode, "position": captured.position, "since": since}


def selection_where(conn, settings: Settings, mapping, selection: dict) -> tuple[list, list]:
    """SQL on the document ``d`` for a backfill's selection, and its parameters.

    ``category`` matches the shop's label in any case (LIKE-escaped) or the taxonomy
    category the platform tagged (looked up in the platform database).
    """
    where, params = [], []
    key = f"d.{mapping.key}::text"
    if selection.get("category"):
        category = selection["category"].strip()
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT sku FROM {settings.state_schema}.tags WHERE attribute = 'category' "
                "AND lower(value) = lower(%s)",
                (category,),
            )
            tagged = [r[0] for r in cur.fetchall()]
        where.append(f"(d.category ILIKE %s ESCAPE '\\' OR {key} = ANY(%s))")
        params.extend([changes.like_literal(category), tagged])
    for clause, value in (
        (f"{key} = ANY(%s)", list(selection["skus"]) if selection.get("skus") else None),
        ("d.updated_at >= %s", selection.get("since")),
        ("d.updated_at <= %s", selection.get("until")),
    ):
        if value:
            where.append(clause)
            params.append(value)
    return where, params


def _selected_changes(
    conn, settings: Settings, selection: dict, upper: datetime, counts, problems, sink
) -> None:
    """A backfill's selection re-read through the mapping (``reconcile``: plus deletes),
    classified into ``sink``."""
    mapping = source.mapping_for(settings)
    where, params = selection_where(conn, settings, mapping, selection)
    with source.source_connection(settings) as src:
        if not selection.get("reconcile_only"):
            snaps = documents.scan_documents(src, mapping, where=where, params=params)
            force = bool(selection.get("force"))
            _classify_all(
                conn, settings.state_schema, snaps, force, counts, sink.add, problems=problems
            )
        extra = reconcile_items(src, conn, settings, mapping) if selection.get("reconcile") else []
        if added := sink.add_new(extra):
            counts[DELETED] += added


def reconcile_items(src, conn, settings: Settings, mapping) -> list[ChangeItem]:
    """Active SKUs of the platform with no document in the source (deletes with no trace)."""
    active = set(refresh.active_state_keys(conn, settings.state_schema))
    return refresh.deletes(conn, settings.state_schema, active - refresh.root_keys(src, mapping))


def _insert_run(cur, schema, run_id, kind, lower, upper) -> None:
    """Record the run being detected (its items, shards and counts follow)."""
    cur.execute(
        f"""INSERT INTO {schema}.runs (run_id, kind, status, lower_ts, upper_ts, params,
                   shards, counts) VALUES (%s, %s, 'detected', %s, %s, '{{}}', 0, '{{}}')""",
        (run_id, kind, lower[0] if lower else None, upper),
    )


def commit(run_id: str, *, settings: Settings | None = None) -> dict:
    """Check every shard result, then record the run and move the watermark atomically.

    Afterwards an active vector index still without its HNSW graph (a fresh install's
    first version is bulk-filled without one) gets it, in one build.
    """
    settings = settings or load_settings()
    summary = _commit(run_id, settings)
    build_missing_search_indexes(settings)
    return summary


def build_missing_search_indexes(settings: Settings) -> list[str]:
    """Build the HNSW index of every active vector index version that lacks one."""
    from enrichment.vectors.factory import vector_store_from_settings

    store = vector_store_from_settings(settings, database_url(settings))
    built = [i.name for i in store.indexes() if i.state == "active" and store.build_hnsw(i)]
    for name in built:
        log.info("vector index %s: HNSW built after the bulk fill", name)
    return built


def _commit(run_id: str, settings: Settings) -> dict:
    url = database_url(settings)
    schema = settings.state_schema
    store = ShardStore.from_settings(settings)
    with connect(url) as conn, conn.cursor() as cur:
        run = _get_run(cur, schema, run_id)
        if run is None:
            raise RunError(f"run {run_id!r} was never detected")
        if run["status"] == "committed":
            log.info("run %s already committed", run_id)
            return run["summary"]
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_COMMIT_LOCK,))  # one commit at a time
        if problem := fencing.fence_problem(cur, schema, run_id):
            raise RunFenced(problem)
        results = [store.read_result(run_id, s) for s in range(run["shards"])]
        missing = [s for s, r in enumerate(results) if not r or r.get("status") != "ok"]
        if missing:
            raise RunError(
                f"run {run_id}: shards {missing} have no successful result; "
                "re-run them before committing"
            )
        claimed = _record_state(cur, schema, run_id)
        capture = (run["params"] or {}).get("capture")
        if run["kind"] == "incremental" and capture:
            positions.save(cur, schema, capture, run_id)
        summary = build_summary(run, results)
        summary["superseded_items"] = len(claimed)  # left to the newer runs holding them
        summary["superseded_runs"] = fencing.mark_superseded(cur, schema, run_id)
        cur.execute(
            f"""UPDATE {schema}.runs SET status = 'committed', committed_at = clock_timestamp(),
                       summary = %s WHERE run_id = %s""",
            (Json(summary), run_id),
        )
        cur.execute(
            f"SELECT committed_at - started_at FROM {schema}.runs WHERE run_id = %s", (run_id,)
        )
        summary["seconds"] = round(cur.fetchone()[0].total_seconds(), 1)
        cur.execute(
            f"UPDATE {schema}.runs SET summary = %s WHERE run_id = %s", (Json(summary), run_id)
        )
    log.info("run %s committed: %s", run_id, json.dumps(summary, default=str))
    return summary


def _record_state(cur, schema: str, run_id: str) -> set[str]:
    """Upsert the run's items into ``product_state`` (never over a newer source version),
    except SKUs a newer run holds; returns those SKUs."""
    cur.execute(f"SELECT sku FROM {schema}.run_items WHERE run_id = %s", (run_id,))
    claimed = fencing.claimed_by_newer(cur, schema, run_id, [r[0] for r in cur.fetchall()])
    cur.execute(
        f"""INSERT INTO {schema}.product_state AS s (sku, product_id, active, text_hash,
                   image_hash, meta_hash, source_updated_at, last_run_id)
            SELECT sku, product_id, active, text_hash, image_hash, meta_hash,
                   source_updated_at, run_id
              FROM {schema}.run_items WHERE run_id = %s AND NOT (sku = ANY(%s))
            ON CONFLICT (sku) DO UPDATE SET
                   product_id = EXCLUDED.product_id, active = EXCLUDED.active,
                   text_hash = coalesce(EXCLUDED.text_hash, s.text_hash),
                   image_hash = coalesce(EXCLUDED.image_hash, s.image_hash),
                   meta_hash = coalesce(EXCLUDED.meta_hash, s.meta_hash),
                   source_updated_at = EXCLUDED.source_updated_at,
                   last_run_id = EXCLUDED.last_run_id, updated_at = clock_timestamp()
             WHERE s.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
                OR EXCLUDED.source_updated_at >= s.source_updated_at""",
        (run_id, sorted(claimed)),
    )
    _analyse_if_grown(cur, f"{schema}.product_state", cur.rowcount)
    return claimed


ANALYSE_SHARE = 0.1  # autovacuum's own default share of changed rows before it analyses


def _analyse_if_grown(cur, table: str, changed: int) -> None:
    """ANALYZE ``table`` in this transaction when ``changed`` rows are a large share of it
    (a first run, a big backfill): the next run's lookups get plans for its real size
    instead of waiting for autovacuum."""
    cur.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (table,))
    estimated = cur.fetchone()[0]
    if changed >= 1000 and (estimated < 0 or changed >= ANALYSE_SHARE * estimated):
        cur.execute(f"ANALYZE {table}")
        log.info("analysed %s after %d changed rows (estimated %d before)", table, changed,
                 max(0, int(estimated)))  # fmt: skip


def _window_start(run: dict) -> str | None:
    """Where the run's window starts: its lower bound, or for a captured incremental run
    the upper bound of the capture position it started from (None: a first full read)."""
    if run["lower_ts"]:
        return run["lower_ts"].isoformat()
    return ((run["params"] or {}).get("capture") or {}).get("since")


def build_summary(run: dict, results: list[dict]) -> dict:
    """The run summary shown in logs, ``status --json`` and the demo."""
    counts: Counter = Counter()
    step_seconds: Counter = Counter()
    for r in results:
        counts.update(r.get("counts", {}))
        step_seconds.update(r.get("step_seconds", {}))
    detected = {
        k: v
        for k, v in (run["counts"] or {}).items()
        if k != UNCHANGED and not k.startswith("input_")
    }
    clip = any(r.get("clip_enabled") for r in results)
    return {
        "run_id": run["run_id"],
        "kind": run["kind"],
        "window": {
            "lower": _window_start(run),
            "upper": run["upper_ts"].isoformat(),
            "past_interval": bool((run["params"] or {}).get("past_interval")),
        },
        "changes": detected,
        "processed": int(counts.get("items", 0)),
        "skipped_unchanged": int((run["counts"] or {}).get(UNCHANGED, 0)),
        "retagged": int(counts.get("items_tagged", 0)),
        "text_embedded": int(counts.get("text_vectors_upserted", 0)),
        "image_embedded": int(counts.get("image_vectors_upserted", 0)),
        "metadata_only_updated": int(counts.get("docs_metadata_updated", 0)),
        "deleted": int(counts.get("products_deleted", 0)),
        "quarantined": int(counts.get("images_quarantined", 0)),
        "tags_written": int(counts.get("tags_written", 0)),
        "shards": run["shards"],
        "clip_enabled": clip,
        "tag_model_id": next(
            (r.get("tag_model_id") for r in results if r.get("tag_model_id")), None
        ),
        "taxonomy_version": next(
            (r.get("taxonomy_version") for r in results if r.get("taxonomy_version")), None
        ),
        "input_problems": (run["params"] or {}).get("input_problems") or [],
        "step_counts": dict(sorted(counts.items())),
        "step_seconds": {k: round(v, 2) for k, v in step_seconds.items()},
    }


def format_summary(summary: dict) -> str:
    """A readable multi-line rendering of a run summary."""
    lines = [
        f"Run {summary['run_id']} ({summary['kind']}), window "
        f"{summary['window']['lower'] or 'beginning'} .. {summary['window']['upper']}"
    ]
    changes_line = ", ".join(f"{k}: {v}" for k, v in sorted(summary["changes"].items())) or "none"
    lines.append(f"  changes detected   {changes_line}")
    lines.append(f"  skipped unchanged  {summary['skipped_unchanged']}")
    lines.append(f"  processed items    {summary['processed']} in {summary['shards']} shard(s)")
    lines.append(
        f"  re-tagged          {summary['retagged']} ({summary['tags_written']} tags)"
        + ("" if summary["clip_enabled"] else "  [CLIP off: pixel colour + text only]")
    )
    lines.append(f"  text re-embedded   {summary['text_embedded']}")
    if summary.get("image_embedded"):
        lines.append(f"  image re-embedded  {summary['image_embedded']}")
    lines.append(f"  metadata only      {summary['metadata_only_updated']} (no model run)")
    lines.append(f"  deleted            {summary['deleted']}")
    lines.append(f"  quarantined images {summary['quarantined']}")
    if summary["window"].get("past_interval"):
        lines.append("  past interval      re-processed this window; capture position not moved")
    for p in summary.get("input_problems") or []:
        lines.append(
            f"  input problem      {p['problem']}: {p['field']} of {p['sku']} = {p['value']}"
        )
    if "seconds" in summary:
        lines.append(f"  took               {summary['seconds']} s")
    return "\n".join(lines)
