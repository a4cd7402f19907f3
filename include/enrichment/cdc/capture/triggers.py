"""Managed triggers: every base table appends the product keys it touches to a change log.

The log lives in the platform's own schema inside the source database (like pgai's
vectorizer queue). Statement-level triggers with transition tables cost one INSERT per
statement, see updates that skip timestamps, child-table changes, hard deletes and both
SKUs of a rename, and are ``ENABLE ALWAYS`` so ``session_replication_role = replica``
does not bypass them. Each log row carries its transaction id; a run reads the rows not
visible in the previous run's snapshot (the PgQ way), so a transaction that commits late
is read by the next run instead of being lost. Reading needs only SELECT on the log.
"""

from __future__ import annotations

from datetime import datetime

from enrichment.cdc.capture.keys import keys_from, safe_name
from enrichment.cdc.capture.types import Captured, CaptureError
from enrichment.cdc.mapping_types import BaseTable, SourceMapping

_LOG_SQL = """
CREATE SCHEMA IF NOT EXISTS {cs};
CREATE TABLE IF NOT EXISTS {cs}.change_log (
    id         bigserial PRIMARY KEY,
    txid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    key        text,
    source     text NOT NULL,
    op         text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS change_log_txid ON {cs}.change_log (txid);
CREATE INDEX IF NOT EXISTS change_log_changed_at ON {cs}.change_log (changed_at);
"""

_FUNCTION = """
CREATE OR REPLACE FUNCTION {cs}.{fn}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    {body}
    RETURN NULL;
END $fn$;
DROP TRIGGER IF EXISTS {trigger} ON {table};
CREATE TRIGGER {trigger} AFTER {event} ON {table} {referencing}
    FOR EACH STATEMENT EXECUTE FUNCTION {cs}.{fn}();
ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger};
"""

_EVENTS = {
    "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows", ("new_rows",)),
    "update": (
        "UPDATE",
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        ("old_rows", "new_rows"),
    ),
    "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows", ("old_rows",)),
    "truncate": ("TRUNCATE", "", ()),
}


def _trigger_name(op: str) -> str:
    return f"enrichment_capture_{op}"


class TriggerCapture:
    """Managed-trigger change capture over the mapping's base tables."""

    mode = "triggers"

    def __init__(self, mapping: SourceMapping, capture_schema: str):
        self.mapping = mapping
        self.cs = capture_schema

    def _body(self, table: BaseTable, op: str, rel_names: tuple[str, ...]) -> str:
        if not rel_names:  # TRUNCATE: no rows to map, ask for a full re-read
            return (
                f"INSERT INTO {self.cs}.change_log (key, source, op) "
                f"VALUES (NULL, '{table.name}', 'truncate');"
            )
        selects = " UNION ".join(keys_from(table, rel) for rel in rel_names)
        return (
            f"INSERT INTO {self.cs}.change_log (key, source, op) "
            f"SELECT key, '{table.name}', '{op}' FROM ({selects}) s;"
        )

    def install(self, conn) -> list[str]:
        """Create the change log and the triggers on every base table (idempotent)."""
        done = []
        with conn.cursor() as cur:
            for table in self.mapping.tables:
                cur.execute("SELECT to_regclass(%s)", (table.name,))
                if cur.fetchone()[0] is None:
                    raise CaptureError(
                        f"{self.mapping.source}: base table {table.name} does not exist"
                    )
            cur.execute(_LOG_SQL.format(cs=self.cs))
            for table in self.mapping.tables:
                for op, (event, referencing, rels) in _EVENTS.items():
                    cur.execute(
                        _FUNCTION.format(
                            cs=self.cs,
                            fn=safe_name("capture", table.name, op),
                            body=self._body(table, op, rels),
                            trigger=_trigger_name(op),
                            table=table.name,
                            event=event,
                            referencing=referencing,
                        )
                    )
                done.append(table.name)
        return done

    def check(self, conn) -> dict:
        """Which base tables have all four triggers enabled (always); the log's backlog."""
        out: dict = {"mode": self.mode, "tables": {}, "ok": True}
        with conn.cursor() as cur:
            for table in self.mapping.tables:
                cur.execute(
                    """SELECT count(*) FROM pg_trigger
                        WHERE tgrelid = to_regclass(%s) AND tgname LIKE 'enrichment_capture_%%'
                          AND tgenabled = 'A'""",
                    (table.name,),
                )
                ok = cur.fetchone()[0] == len(_EVENTS)
                out["tables"][table.name] = "installed" if ok else "missing"
                out["ok"] = out["ok"] and ok
            cur.execute("SELECT to_regclass(%s)", (f"{self.cs}.change_log",))
            out["change_log"] = f"{self.cs}.change_log" if cur.fetchone()[0] else None
            out["ok"] = out["ok"] and out["change_log"] is not None
        return out

    def remove(self, conn) -> list[str]:
        """Drop the triggers and their functions (the change log is kept)."""
        done = []
        with conn.cursor() as cur:
            for table in self.mapping.tables:
                cur.execute("SELECT to_regclass(%s)", (table.name,))
                exists = cur.fetchone()[0] is not None
                for op in _EVENTS:
                    if exists:
                        cur.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(op)} ON {table.name}")
                    cur.execute(
                        f"DROP FUNCTION IF EXISTS {self.cs}.{safe_name('capture', table.name, op)}()"
                    )
                done.append(table.name)
        return done

    def read(self, conn, position: dict | None, upper: datetime) -> Captured:
        """Keys logged by transactions not visible in the previous run's snapshot."""
        prev = (position or {}).get("snapshot")
        prev_upper = (position or {}).get("upper")
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (f"{self.cs}.change_log",))
            if cur.fetchone()[0] is None:
                raise CaptureError(
                    f"no change log {self.cs}.change_log in the source database: run "
                    "`python -m enrichment cdc install --mode triggers` (as the table owner)"
                )
            # The caller reads in one REPEATABLE READ snapshot: rows visible now are those
            # of transactions committed before the snapshot returned here. Rows logged
            # after the run's upper bound wait for the next run (``changed_at > upper``).
            cur.execute("SELECT pg_current_snapshot()::text")
            snapshot = cur.fetchone()[0]
            where = (
                "(txid >= pg_snapshot_xmin(%(prev)s::pg_snapshot) "
                "AND NOT pg_visible_in_snapshot(txid, %(prev)s::pg_snapshot)"
                " OR changed_at > %(prev_upper)s)"
                if prev
                else "true"
            )
            cur.execute(
                f"SELECT DISTINCT key, op = 'truncate' FROM {self.cs}.change_log "
                f"WHERE {where} AND changed_at <= %(upper)s",
                {"prev": prev, "prev_upper": prev_upper, "upper": upper},
            )
            rows = cur.fetchall()
        keys = {k for k, _ in rows if k is not None}
        new_upper = max(filter(None, [upper.isoformat(), prev_upper]), key=datetime.fromisoformat)
        return Captured(
            mode=self.mode,
            keys=keys,
            position={"snapshot": snapshot, "upper": new_upper},
            full=prev is None or any(t for _, t in rows),
            reconcile=prev is None,
            info={"keys": len(keys)},
        )
