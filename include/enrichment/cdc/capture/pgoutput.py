"""A decoder for PostgreSQL's ``pgoutput`` logical replication messages (protocol 1).

Only what change capture needs: Relation messages (table names and column names) and
Insert / Update / Delete / Truncate rows as ``{column: text value}``. Values arrive in
their text form; unchanged TOAST values are left out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field


@dataclass
class Relation:
    schema: str
    name: str
    columns: list[str]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class RowChange:
    """One decoded row change; ``old`` is set for updates and deletes when the WAL has it."""

    op: str
    relation: Relation
    new: dict | None = None
    old: dict | None = None


@dataclass
class Decoder:
    """Keeps the relation cache across messages of one replication stream."""

    relations: dict[int, Relation] = field(default_factory=dict)

    def decode(self, data: bytes) -> list[RowChange]:
        """The row changes in one message (empty for Begin, Commit, Relation...)."""
        kind = data[:1]
        if kind == b"R":
            self._relation(data)
        elif kind in (b"I", b"U", b"D"):
            return [self._row(kind, data)]
        elif kind == b"T":
            (count,) = struct.unpack_from("!i", data, 1)
            oids = struct.unpack_from(f"!{count}i", data, 6)
            return [RowChange("truncate", self.relations[o]) for o in oids if o in self.relations]
        return []

    def _relation(self, data: bytes) -> None:
        (oid,) = struct.unpack_from("!i", data, 1)
        pos = 5
        schema, pos = _cstring(data, pos)
        name, pos = _cstring(data, pos)
        pos += 1  # replica identity setting
        (ncols,) = struct.unpack_from("!h", data, pos)
        pos += 2
        columns = []
        for _ in range(ncols):
            pos += 1  # flags
            col, pos = _cstring(data, pos)
            pos += 8  # type oid, type modifier
            columns.append(col)
        self.relations[oid] = Relation(schema, name, columns)

    def _row(self, kind: bytes, data: bytes) -> RowChange:
        (oid,) = struct.unpack_from("!i", data, 1)
        rel = self.relations[oid]
        pos = 5
        old = new = None
        if data[pos : pos + 1] in (b"K", b"O"):
            old, pos = _tuple(data, pos + 1, rel.columns)
        if data[pos : pos + 1] == b"N":
            new, pos = _tuple(data, pos + 1, rel.columns)
        op = {b"I": "insert", b"U": "update", b"D": "delete"}[kind]
        return RowChange(op, rel, new=new, old=old)


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.index(b"\x00", pos)
    return data[pos:end].decode("utf-8"), end + 1


def _tuple(data: bytes, pos: int, columns: list[str]) -> tuple[dict, int]:
    (ncols,) = struct.unpack_from("!h", data, pos)
    pos += 2
    values: dict = {}
    for i in range(ncols):
        marker = data[pos : pos + 1]
        pos += 1
        if marker == b"n":
            values[columns[i]] = None
        elif marker == b"t":
            (length,) = struct.unpack_from("!i", data, pos)
            pos += 4
            values[columns[i]] = data[pos : pos + length].decode("utf-8")
            pos += length
        # b"u": unchanged TOAST value, not sent
    return values, pos
