"""Timestamp cursor: rows whose cursor columns moved into ``(last upper - overlap, upper]``.

The simplest mode, and the only one that needs nothing installed: SELECT on the base
tables. Several cursor columns per table are allowed (``created_at``, ``updated_at``).
It cannot see updates that skip every cursor column; hard deletes and the old SKU of a
rename are found by a key diff against the root table (the first table of the mapping).
Columns without a time zone (``timestamp``) are read in the table's ``cursor_zone``
(UTC unless the mapping says otherwise), whatever the source role's session zone is.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg2

from enrichment.cdc.capture.keys import keys_from
from enrichment.cdc.capture.types import Captured
from enrichment.cdc.mapping_types import BaseTable, SourceMapping
from enrichment.config import ConfigError


def _session_zone(cur) -> str:
    """The source session's own time zone, to restore after reading in a table's zone."""
    if cur.connection.autocommit:  # set_config(..., true) would not last the query
        raise ValueError("cursor capture needs a connection inside a transaction")
    cur.execute("SELECT current_setting('TimeZone')")
    return cur.fetchone()[0]


def _use_zone(cur, zone: str, table: BaseTable | None = None) -> None:
    """Read zone-less columns in ``zone`` until the transaction ends (``timestamptz`` is
    unaffected); an unknown zone of ``table`` fails naming it."""
    try:
        cur.execute("SELECT set_config('TimeZone', %s, true)", (zone,))
    except psycopg2.DataError as exc:
        where = f"table {table.name}" if table else "session"
        raise ConfigError(
            f"source mapping, {where}: cursor_zone {zone!r} is not a "
            f"time zone the source database knows ({exc.pgerror or exc})".strip()
        ) from exc


class CursorCapture:
    """Timestamp-cursor change capture over the tables that declare cursor columns."""

    mode = "cursor"

    def __init__(self, mapping: SourceMapping, overlap_seconds: int):
        self.mapping = mapping
        self.overlap = timedelta(seconds=overlap_seconds)

    def install(self, conn) -> list[str]:
        return []

    def check(self, conn) -> dict:
        with conn.cursor() as cur:
            self._check_zones(cur)
        tables = {
            t.name: f"{', '.join(t.cursor)} (read in {t.cursor_zone})"
            if t.cursor
            else "no cursor column"
            for t in self.mapping.tables
        }
        return {"mode": self.mode, "tables": tables, "ok": True}

    def _check_zones(self, cur) -> None:
        """Fail naming the table when a ``cursor_zone`` is unknown to the source server."""
        session_zone = _session_zone(cur)
        for table in self.mapping.tables:
            if table.cursor:
                _use_zone(cur, table.cursor_zone, table)
        _use_zone(cur, session_zone)

    def remove(self, conn) -> list[str]:
        return []

    def read(self, conn, position: dict | None, upper: datetime) -> Captured:
        """Keys of rows with any cursor column in the window; no position: a full read."""
        last = (position or {}).get("upper")
        if last is None:
            with conn.cursor() as cur:  # a bad zone fails before the full read
                self._check_zones(cur)
            return Captured(self.mode, position={"upper": upper.isoformat()}, full=True)
        lower = datetime.fromisoformat(last) - self.overlap
        keys: set[str] = set()
        with conn.cursor() as cur:  # keys SQL runs in the table's zone too; then restored
            session_zone = _session_zone(cur)
            for table in self.mapping.tables:
                if not table.cursor:
                    continue
                _use_zone(cur, table.cursor_zone, table)
                cond = " OR ".join(
                    f"(t.{c} > %(lower)s AND t.{c} <= %(upper)s)" for c in table.cursor
                )
                rows = f"(SELECT t.* FROM {table.name} t WHERE {cond})"
                cur.execute(keys_from(table, rows), {"lower": lower, "upper": upper})
                keys.update(r[0] for r in cur.fetchall())
            _use_zone(cur, session_zone)
        return Captured(
            self.mode,
            keys=keys,
            position={"upper": max(upper, datetime.fromisoformat(last)).isoformat()},
            reconcile=True,
            info={"window": [lower.isoformat(), upper.isoformat()]},
        )
