"""What a change-capture mode returns, and the interface every mode implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class CaptureError(RuntimeError):
    """Change capture cannot run; the message says what to install or grant."""


@dataclass
class Captured:
    """Product keys changed since ``position`` and the position to commit after the run.

    ``full`` asks for a full re-read of the source (the capture lost track: a TRUNCATE,
    a lost replication slot); ``reconcile`` asks for a key diff to find hard deletes.
    """

    mode: str
    keys: set[str] = field(default_factory=set)
    position: dict = field(default_factory=dict)
    full: bool = False
    reconcile: bool = False
    info: dict = field(default_factory=dict)


class CaptureMode(Protocol):
    """A change-capture mode over a source mapping."""

    mode: str

    def install(self, conn) -> list[str]: ...

    def check(self, conn) -> dict: ...

    def remove(self, conn) -> list[str]: ...

    def read(self, conn, position: dict | None, upper: datetime) -> Captured: ...
