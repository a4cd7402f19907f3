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
from datetime import datetime, timedelta

from psycopg2.extras import Json, execute_values

from enrichment.cdc import detect as changes
from enrichment.cdc.detect import DELETED, UNCHANGED, ChangeItem, ProductSnapshot
from enrichment.config import Settings, load_settings
from enrichment.db.connection import connect, database_url
from enrichment.runs import fencing
from enrichment.runs.errors import RunError, RunFenced
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


def _input_problems(conn, src: str, pending: list[ProductSnapshot]) -> list[dict]:
    """Source rows to flag (field named): a SKU on several active rows, negative stock."""
    problems = [
        {"sku": s.sku, "field": "products.stock", "problem": "negative_stock", "value": s.stock}
        for s in pending
        if isinstance(s.stock, int | float) and s.stock < 0
    ]
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT sku, array_agg(id ORDER BY id) FROM {src}.products
                 WHERE sku = ANY(%s) AND NOT is_deleted GROUP BY sku HAVING count(*) > 1""",
            ([s.sku for s in pending if s.active],),
        )
        problems += [
            {"sku": sku, "field": "products.sku", "problem": "duplicate_sku", "value": ids}
            for sku, ids in cur.fetchall()
        ]
    return problems


def _classify_all(
    conn,
    schema: str,
    snapshots,
    force: bool,
    counts: Counter,
    batch: int = 2000,
    *,
    src: str | None = None,
    problems: list | None = None,
) -> list[ChangeItem]:
    items: list[ChangeItem] = []
    pending: list[ProductSnapshot] = []

    def flush() -> None:
        if src is not None and problems is not None and pending:
            found = _input_problems(conn, src, pending)
            for p in found:
                counts[f"input_{p['problem']}"] += 1
                log.warning("input problem: %s %r = %r", p["field"], p["sku"], p["value"])
            problems.extend(found[: max(0, MAX_PROBLEMS - len(problems))])
        state = changes.load_state(conn, schema, [s.sku for s in pending])
        for snap in pending:
            cls = changes.classify(snap, state.get(snap.sku), force=force)
            counts[cls] += 1
            if cls != UNCHANGED:
                items.append(changes.to_item(snap, cls))
        pending.clear()

    seen: set[str] = set()
    for snap in snapshots:
        if snap.sku in seen:  # a SKU can appear twice if it was re-created with a new id
            continue
        seen.add(snap.sku)
        pending.append(snap)
        if len(pending) >= batch:
            flush()
    flush()
    return items


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

    ``selection`` (backfills): ``skus``, ``category``, ``since``, ``until``, ``force``,
    ``reconcile``. Returns the run record with ``shards`` (count) and ``counts``.

    An incremental run whose ``upper`` is not after the watermark (a backfill or a
    trigger with a past logical date) re-processes what changed in
    ``[interval_start, upper]`` and leaves the watermark alone; without
    ``interval_start`` it raises :class:`PastIntervalError`.
    """
    settings = settings or load_settings()
    schema = settings.state_schema
    selection = selection or {}
    store = ShardStore.from_settings(settings)
    with connect(database_url(settings)) as conn, conn.cursor() as cur:
        existing = _get_run(cur, schema, run_id)
        if existing:
            log.info(
                "run %s already detected (%s): %d shards",
                run_id,
                existing["status"],
                existing["shards"],
            )
            return existing
        counts: Counter = Counter()
        wm = _watermark(cur, schema, settings.source_schema) if kind == "incremental" else None
        lower, past = _window(wm, settings.overlap_seconds, upper, interval_start)
        scan = _scan(conn, settings, kind, selection, lower, upper)
        max_seen: list = [None, None]
        problems: list[dict] = []
        items = _classify_all(
            conn,
            schema,
            _tracked(scan, max_seen),
            bool(selection.get("force")),
            counts,
            src=settings.source_schema,
            problems=problems,
        )
        del_lower = lower[0] if past else None
        deletes_ts = _add_deleted(
            conn, settings, kind, selection, wm, upper, items, counts, del_lower
        )
        shard_count = _write_shards(store, run_id, items, settings)
        params = {
            "selection": {
                k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in selection.items()
            },
            "watermark": _next_watermark(wm, max_seen, deletes_ts)
            if kind == "incremental" and not past
            else None,
            "past_interval": past,
            "shard_store": store.root,
            "input_problems": problems,
        }
        _insert_run(cur, schema, run_id, kind, lower, upper, params, shard_count, counts, items)
        run = _get_run(cur, schema, run_id)
    log.info(
        "run %s detected: %s; %d items in %d shards (window %s .. %s)",
        run_id,
        ", ".join(f"{k}={v}" for k, v in sorted(counts.items())),
        len(items),
        shard_count,
        run["lower_ts"],
        upper,
    )
    return run


def _window(wm, overlap_seconds: int, upper: datetime, interval_start: datetime | None):
    """An incremental run's lower bound ``(ts, id)`` and whether it is for a past interval.

    Past interval (``upper`` not after the watermark): the run's own data interval,
    so a backfill re-processes what changed then instead of an empty reversed window.
    """
    if wm is None:
        return None, False
    if upper > wm[0]:
        return changes.overlap_start(wm[0], overlap_seconds), False
    if interval_start is None or interval_start >= upper:
        raise PastIntervalError(
            f"this run's upper bound {upper.isoformat()} is not after the watermark "
            f"{wm[0].isoformat()} and it has no data interval start to re-process; "
            "trigger catalog_backfill (selection updated_between) for a past period"
        )
    log.warning(
        "past interval: upper bound %s is not after the watermark %s; re-processing what "
        "changed in %s .. %s without moving the watermark",
        upper.isoformat(),
        wm[0].isoformat(),
        interval_start.isoformat(),
        upper.isoformat(),
    )
    return (interval_start, -1), True


def _watermark(cur, schema: str, src: str) -> tuple | None:
    """The source's committed watermark: ``(ts, last_id, deletes_ts)`` or None."""
    cur.execute(f"SELECT ts, last_id, deletes_ts FROM {schema}.watermarks WHERE name = %s", (src,))
    return cur.fetchone()


def _scan(conn, settings: Settings, kind: str, selection: dict, lower, upper: datetime):
    """Source snapshots of the run: the changed window, or a backfill's selection."""
    src = settings.source_schema
    if kind == "incremental":
        return changes.scan_window(conn, src, lower, upper)
    return changes.scan_selection(
        conn,
        src,
        skus=selection.get("skus"),
        category=selection.get("category"),
        since=selection.get("since"),
        until=selection.get("until") or upper,
        state_schema=settings.state_schema,
    )


def _tracked(snapshots, max_seen: list):
    """Pass snapshots through, keeping the largest ``(updated_at, id)`` seen in ``max_seen``."""
    for snap in snapshots:
        key = (snap.source_updated_at, snap.product_id)
        if max_seen[0] is None or key > tuple(max_seen):
            max_seen[:] = key
        yield snap


def _add_deleted(
    conn, settings: Settings, kind, selection, wm, upper, items, counts, del_lower=None
):
    """Append hard deletes (tombstones, reconciliation) not seen yet; the tombstone mark."""
    schema, src = settings.state_schema, settings.source_schema
    seen = {i.sku for i in items}
    deletes_ts = None
    tomb: list = []
    if kind == "incremental":
        if del_lower is None and wm:
            del_lower = wm[2] - timedelta(seconds=settings.overlap_seconds)
        tomb, deletes_ts = changes.tombstones(conn, src, schema, del_lower, upper)
    if (kind == "incremental" and wm is None) or selection.get("reconcile"):
        tomb += changes.reconcile_deletes(conn, src, schema)
    for item in tomb:
        if item.sku not in seen:
            seen.add(item.sku)
            items.append(item)
            counts[DELETED] += 1
    return deletes_ts


def _write_shards(store: ShardStore, run_id: str, items: list, settings: Settings) -> int:
    """Sort, number and write the shard manifests; returns the shard count."""
    items.sort(key=lambda i: i.sku)
    # Shards grow past ENRICHMENT_SHARD_SIZE rather than exceed ENRICHMENT_MAX_SHARDS
    # mapped tasks (Airflow caps a mapping at core.max_map_length, 1024 by default).
    size = max(1, settings.shard_size, -(-len(items) // max(1, settings.max_shards)))
    for n, item in enumerate(items):
        item.shard = n // size
    shard_count = (len(items) + size - 1) // size
    for shard in range(shard_count):
        store.write_manifest(
            run_id, shard, [i.to_json() for i in items[shard * size : (shard + 1) * size]]
        )
    return shard_count


def _next_watermark(wm, max_seen: list, deletes_ts) -> dict | None:
    """The watermark this run commits: the newest row seen, else the current one."""
    ts = max_seen[0] or (wm[0] if wm else None)
    if ts is None:
        return None
    return {
        "ts": ts.isoformat(),
        "last_id": max_seen[1] if max_seen[0] else wm[1],
        "deletes_ts": max(filter(None, [deletes_ts, wm[2] if wm else None, ts])).isoformat(),
    }


def _insert_run(cur, schema, run_id, kind, lower, upper, params, shard_count, counts, items):
    """Record the detected run and its items."""
    cur.execute(
        f"""INSERT INTO {schema}.runs (run_id, kind, status, lower_ts, upper_ts, params,
                   shards, counts) VALUES (%s, %s, 'detected', %s, %s, %s, %s, %s)""",
        (
            run_id,
            kind,
            lower[0] if lower else None,
            upper,
            Json(params),
            shard_count,
            Json(dict(counts)),
        ),
    )
    if not items:
        return
    execute_values(
        cur,
        f"""INSERT INTO {schema}.run_items (run_id, sku, product_id, change_class,
               shard, active, text_hash, image_hash, meta_hash, source_updated_at)
            VALUES %s""",
        [
            (
                run_id,
                i.sku,
                i.product_id,
                i.change_class,
                i.shard,
                i.active,
                i.text_hash,
                i.image_hash,
                i.meta_hash,
                i.source_updated_at,
            )
            for i in items
        ],
        page_size=1000,
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
    schema, src = settings.state_schema, settings.source_schema
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
        wm = (run["params"] or {}).get("watermark")
        if run["kind"] == "incremental" and wm:
            cur.execute(
                f"""INSERT INTO {schema}.watermarks AS w (name, ts, last_id, deletes_ts, run_id)
                    VALUES (%s, %s, %s, %s, %s)
                    ON CONFLICT (name) DO UPDATE SET
                       ts = GREATEST(w.ts, EXCLUDED.ts),
                       last_id = CASE WHEN EXCLUDED.ts >= w.ts THEN EXCLUDED.last_id
                                      ELSE w.last_id END,
                       deletes_ts = GREATEST(w.deletes_ts, EXCLUDED.deletes_ts),
                       run_id = EXCLUDED.run_id, updated_at = clock_timestamp()""",
                (src, wm["ts"], wm["last_id"], wm["deletes_ts"], run_id),
            )
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
    return claimed


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
            "lower": run["lower_ts"].isoformat() if run["lower_ts"] else None,
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
        lines.append("  past interval      re-processed this window; watermark not moved")
    for p in summary.get("input_problems") or []:
        lines.append(
            f"  input problem      {p['problem']}: {p['field']} of {p['sku']} = {p['value']}"
        )
    if "seconds" in summary:
        lines.append(f"  took               {summary['seconds']} s")
    return "\n".join(lines)
