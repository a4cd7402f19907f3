"""Run fencing: a run never writes an older snapshot over newer state.

Each run's manifests hold a snapshot of the source taken when it was detected. A run is
*fenced* (refused, with a message saying what to do) when it was abandoned, was marked
superseded, or is a live incremental run and a later live incremental run exists (in
progress or committed): the later one re-read the same window from the watermark, so
nothing is lost by refusing. A run for a past interval (Airflow's own backfill of
``catalog_incremental``) reads only its own interval, so it is never refused for that.
Other overlaps (a backfill and another run sharing SKUs) are *rebased*: a run writes and
commits only the SKUs no run detected after it claims (:func:`claimed_by_newer`).

The worker checks before each write step and tagging batch; ``commit`` checks in its
transaction, records only the SKUs it still owns, and marks older open incremental runs
``superseded`` when an incremental run commits.
"""

from __future__ import annotations

from enrichment.db.connection import connect
from enrichment.runs.errors import RunError, RunFenced

ENDED = ("superseded", "abandoned")

_NEWER_INCREMENTAL = """
SELECT n.run_id, n.status FROM {s}.runs r
  JOIN {s}.runs n ON n.started_at > r.started_at AND n.run_id <> r.run_id
 WHERE r.run_id = %(run)s AND r.kind = 'incremental' AND n.kind = 'incremental'
   AND coalesce((r.params->>'past_interval')::boolean, false) = false AND coalesce((n.params->>'past_interval')::boolean, false) = false
   AND n.status IN ('detected', 'committed')
 ORDER BY n.status = 'committed' DESC, n.started_at DESC LIMIT 1
"""


def fence_problem(cur, schema: str, run_id: str) -> str | None:
    """Why ``run_id`` may not write at all (with what to do), or None when it may."""
    cur.execute(
        f"SELECT status, superseded_by, end_reason FROM {schema}.runs WHERE run_id = %s",
        (run_id,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    status, superseded_by, reason = row
    if status == "abandoned":
        return (
            f"run {run_id} was abandoned ({reason or 'no reason given'}); it may not write "
            "or commit. Start a new run to process the changes it held."
        )
    newer = (superseded_by, "committed") if status == "superseded" else None
    if status == "detected":
        cur.execute(_NEWER_INCREMENTAL.format(s=schema), {"run": run_id})
        newer = cur.fetchone()
    if newer is None:
        return None
    what = "committed newer state" if newer[1] == "committed" else "is in progress"
    return (
        f"run {run_id} is superseded: incremental run {newer[0]}, detected later, {what}. "
        f"Its snapshot is older and would overwrite newer tags, documents and vectors, so "
        f"it may not write or commit. Mark it with `python -m enrichment abandon --run-id "
        f"{run_id}`; the changes it held are processed by {newer[0]} (or the next run)."
    )


def claimed_by_newer(cur, schema: str, run_id: str, skus: list[str]) -> set[str]:
    """Those of ``skus`` that a run detected after ``run_id`` (open or committed) holds."""
    if not skus:
        return set()
    cur.execute(
        f"""SELECT DISTINCT b.sku FROM {schema}.runs r
              JOIN {schema}.runs n ON n.started_at > r.started_at AND n.run_id <> r.run_id
              JOIN {schema}.run_items b ON b.run_id = n.run_id
             WHERE r.run_id = %s AND n.status IN ('detected', 'committed')
               AND b.sku = ANY(%s)""",
        (run_id, list(skus)),
    )
    return {row[0] for row in cur.fetchall()}


def owned(url: str, schema: str, run_id: str, skus: list[str]) -> set[str]:
    """The SKUs ``run_id`` may write now; raises :class:`RunFenced` when it may write none."""
    with connect(url) as conn, conn.cursor() as cur:
        problem = fence_problem(cur, schema, run_id)
        if problem:
            raise RunFenced(problem)
        return set(skus) - claimed_by_newer(cur, schema, run_id, skus)


def mark_superseded(cur, schema: str, run_id: str) -> list[str]:
    """In the committing transaction: older open incremental runs -> ``superseded``."""
    cur.execute(
        f"""UPDATE {schema}.runs o SET status = 'superseded', superseded_by = r.run_id,
                   ended_at = clock_timestamp(), end_reason = 'a newer run committed'
              FROM {schema}.runs r
             WHERE r.run_id = %(run)s AND o.status = 'detected' AND o.started_at < r.started_at
               AND o.kind = 'incremental' AND r.kind = 'incremental'
               AND coalesce((o.params->>'past_interval')::boolean, false) = false AND coalesce((r.params->>'past_interval')::boolean, false) = false
         RETURNING o.run_id""",
        {"run": run_id},
    )
    return sorted(r[0] for r in cur.fetchall())


def abandon(url: str, schema: str, run_id: str, reason: str | None = None) -> dict:
    """Mark a run that will never be finished; it may no longer write or commit."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT status FROM {schema}.runs WHERE run_id = %s FOR UPDATE", (run_id,))
        row = cur.fetchone()
        if row is None:
            raise RunError(f"run {run_id!r} was never detected")
        if row[0] == "committed":
            raise RunError(f"run {run_id} is committed; a committed run cannot be abandoned")
        if row[0] != "abandoned":
            cur.execute(
                f"""UPDATE {schema}.runs SET status = 'abandoned', ended_at = clock_timestamp(),
                           end_reason = %s WHERE run_id = %s""",
                (reason or f"abandoned by the operator (was {row[0]})", run_id),
            )
        return {"run_id": run_id, "previous_status": row[0], "status": "abandoned"}


def stale_runs(cur, schema: str) -> list[dict]:
    """Runs that ended without committing (superseded, abandoned), newest first."""
    cur.execute(
        f"""SELECT run_id, kind, status, superseded_by, started_at, ended_at, end_reason
              FROM {schema}.runs WHERE status IN ('superseded', 'abandoned')
             ORDER BY started_at DESC"""
    )
    keys = ("run_id", "kind", "status", "superseded_by", "started_at", "ended_at", "reason")
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(keys, r, strict=True)}
        for r in cur.fetchall()
    ]
