"""Log-based capture: a publication over the base tables and a ``pgoutput`` slot.

Each run streams the slot from the last committed position up to the WAL position at
its start, decodes rows in Python, and maps them to product keys with the mapping's
``keys`` queries (rows rebuilt with ``jsonb_populate_recordset``). The slot is confirmed
only up to the position the previous run *committed*, so a failed run is re-read and a
transaction that commits late arrives (at its commit) in a later run. Base tables need
``REPLICA IDENTITY FULL`` so deletes and renames carry the old row. A lost slot (dropped,
or WAL removed past ``max_slot_wal_keep_size``) falls back to a full re-read with a new slot.
"""

from __future__ import annotations

import json
import logging
import select
import struct
import time
from collections import defaultdict
from datetime import UTC, datetime

import psycopg2
import psycopg2.extras

from enrichment.cdc.capture.keys import keys_from, safe_name
from enrichment.cdc.capture.pgoutput import Decoder
from enrichment.cdc.capture.types import Captured, CaptureError
from enrichment.cdc.mapping_types import SourceMapping

log = logging.getLogger(__name__)
STREAM_TIMEOUT_S = 300.0


class LogicalCapture:
    """Logical-replication change capture (publication + pgoutput slot)."""

    mode = "log"

    def __init__(self, mapping: SourceMapping, url: str, name: str | None = None):
        self.mapping = mapping
        self.url = url
        self.slot = self.publication = name or safe_name("enrichment", mapping.name)

    def install(self, conn) -> list[str]:
        """Publication, REPLICA IDENTITY FULL on every base table, then the slot."""
        tables = ", ".join(t.name for t in self.mapping.tables)
        with conn.cursor() as cur:
            cur.execute("SHOW wal_level")
            if cur.fetchone()[0] != "logical":
                raise CaptureError(
                    "wal_level is not logical: ALTER SYSTEM SET wal_level = logical, "
                    "then restart PostgreSQL"
                )
            cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (self.publication,))
            verb = (
                "ALTER PUBLICATION {} SET TABLE"
                if cur.fetchone()
                else "CREATE PUBLICATION {} FOR TABLE"
            )
            cur.execute(f"{verb.format(self.publication)} {tables}")
            for table in self.mapping.tables:
                cur.execute(f"ALTER TABLE {table.name} REPLICA IDENTITY FULL")
        conn.commit()
        self._create_slot()
        return [t.name for t in self.mapping.tables]

    def _create_slot(self, drop: bool = False) -> None:
        conn = psycopg2.connect(self.url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                if drop:
                    cur.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
                cur.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (self.slot,))
                if cur.fetchone() is None:
                    cur.execute(
                        "SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (self.slot,)
                    )
        finally:
            conn.close()

    def _slot(self, cur) -> tuple | None:
        cur.execute(
            """SELECT wal_status, confirmed_flush_lsn::text,
                      pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
                 FROM pg_replication_slots WHERE slot_name = %s""",
            (self.slot,),
        )
        return cur.fetchone()

    def check(self, conn) -> dict:
        """Slot state and lag (WAL held), publication tables, replica identities."""
        with conn.cursor() as cur:
            slot = self._slot(cur)
            cur.execute(
                "SELECT schemaname || '.' || tablename FROM pg_publication_tables "
                "WHERE pubname = %s",
                (self.publication,),
            )
            published = {r[0] for r in cur.fetchall()}
            cur.execute("SHOW max_slot_wal_keep_size")
            keep = cur.fetchone()[0]
            tables = {}
            for t in self.mapping.tables:
                cur.execute(
                    "SELECT relreplident FROM pg_class WHERE oid = to_regclass(%s)", (t.name,)
                )
                ident = (cur.fetchone() or [None])[0]
                tables[t.name] = {
                    "published": t.name in published,
                    "replica_identity_full": ident == "f",
                }
        ok = (
            slot is not None
            and slot[0] != "lost"
            and all(v["published"] and v["replica_identity_full"] for v in tables.values())
        )
        return {
            "mode": self.mode,
            "ok": ok,
            "slot": self.slot,
            "slot_status": slot[0] if slot else "missing",
            "confirmed_flush_lsn": slot[1] if slot else None,
            "wal_held_bytes": slot[2] if slot else None,
            "max_slot_wal_keep_size": keep,
            "tables": tables,
        }

    def remove(self, conn) -> list[str]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                (self.slot,),
            )
            cur.execute(f"DROP PUBLICATION IF EXISTS {self.publication}")
        return [t.name for t in self.mapping.tables]

    def read(self, conn, position: dict | None, upper: datetime) -> Captured:
        """Keys of rows changed by transactions committed since ``position``."""
        with conn.cursor() as cur:
            slot = self._slot(cur)
            cur.execute("SELECT pg_current_wal_lsn()::text")
            end = cur.fetchone()[0]
        if slot is None or slot[0] == "lost":
            return self._fall_back(conn, slot, end)
        start = (position or {}).get("lsn") or slot[1]
        began = time.monotonic()
        rows, truncated, stop = self._stream(start, end, upper)
        streamed = time.monotonic()
        keys = self._keys(conn, rows)
        return Captured(
            self.mode,
            keys=keys,
            position={"lsn": stop},
            full=position is None or truncated,
            reconcile=position is None,
            info={
                "from_lsn": start,
                "to_lsn": stop,
                "wal_read_bytes": _lsn(end) - _lsn(start),
                "wal_held_bytes": slot[2],
                "rows": len(rows),
                "stream_s": round(streamed - began, 3),
                "keys_s": round(time.monotonic() - streamed, 3),
            },
        )

    def _fall_back(self, conn, slot, end: str) -> Captured:
        log.warning(
            "replication slot %s is %s: recreating it and re-reading the whole source once "
            "(consider raising max_slot_wal_keep_size or running detect more often)",
            self.slot,
            "lost" if slot else "missing",
        )
        self._create_slot(drop=slot is not None)
        return Captured(
            self.mode,
            position={"lsn": end},
            full=True,
            reconcile=True,
            info={"fallback": f"slot {self.slot} {'lost' if slot else 'missing'}"},
        )

    def _stream(self, start: str, end: str, upper: datetime) -> tuple[list, bool, str]:
        """Row changes committed in ``(start, end]`` and by ``upper``; TRUNCATE seen; stop LSN."""
        repl = psycopg2.connect(
            self.url, connection_factory=psycopg2.extras.LogicalReplicationConnection
        )
        try:
            return self._consume(repl.cursor(), start, end, upper)
        except psycopg2.errors.ObjectInUse as exc:
            raise CaptureError(f"replication slot {self.slot} is used by another reader") from exc
        finally:
            repl.close()

    def _consume(self, cur, start: str, end: str, upper: datetime) -> tuple[list, bool, str]:
        end_lsn, stop = _lsn(end), end
        upper_us = int((upper - _PG_EPOCH).total_seconds() * 1_000_000)
        cur.start_replication(
            slot_name=self.slot,
            decode=False,
            start_lsn=start,
            options={"proto_version": "1", "publication_names": self.publication},
        )
        cur.send_feedback(flush_lsn=_lsn(start))  # the previous run committed up to here
        decoder, rows, truncated, in_txn, last_end = Decoder(), [], False, False, 0
        deadline = time.monotonic() + STREAM_TIMEOUT_S
        while True:
            msg = cur.read_message()
            if msg is not None:
                kind = msg.payload[:1]
                if kind == b"B":
                    final_lsn, commit_us = struct.unpack_from("!qq", msg.payload, 1)
                    if final_lsn > end_lsn or commit_us > upper_us:
                        # committed after this run's start or upper bound: the next run
                        # reads it, from the end of the last transaction taken here
                        stop = _lsn_text(last_end) if last_end else start
                        break
                    in_txn = True
                elif kind == b"C":
                    in_txn, last_end = False, struct.unpack_from("!q", msg.payload, 10)[0]
                for change in decoder.decode(msg.payload):
                    truncated = truncated or change.op == "truncate"
                    rows.append(change)
                continue
            # keepalives carry the position decoded so far: stop once it passed ``end``
            if cur.wal_end >= end_lsn and not in_txn:
                break
            if time.monotonic() > deadline:
                raise CaptureError(f"slot {self.slot}: no WAL up to {end} within the timeout")
            cur.send_feedback(reply=True)
            select.select([cur], [], [], 0.5)
        return rows, truncated, stop

    def _keys(self, conn, changes: list) -> set[str]:
        by_table: dict[str, list[dict]] = defaultdict(list)
        for change in changes:
            for row in (change.old, change.new):
                if row:
                    by_table[change.relation.qualified].append(row)
        keys: set[str] = set()
        with conn.cursor() as cur:
            for table in self.mapping.tables:
                rows = by_table.get(table.name)
                if rows:
                    source = f"jsonb_populate_recordset(NULL::{table.name}, %s::jsonb)"
                    cur.execute(keys_from(table, source), (json.dumps(rows),))
                    keys.update(r[0] for r in cur.fetchall())
        return keys


_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _lsn_text(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def _lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) + int(lo, 16)
