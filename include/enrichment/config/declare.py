"""Declaring settings: each variable once, with its type, range, default and meaning.

A concern's settings are a frozen dataclass whose fields are made with :func:`setting`;
:func:`read_fields` reads them all through :mod:`enrichment.config.env`, and
:func:`declared` lists the :class:`Var` declarations (``python -m enrichment config
--markdown`` turns them into ``docs/configuration.md``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import enrichment.config.env as env

KINDS = ("text", "int", "number", "flag", "list", "path")


@dataclass(frozen=True)
class Var:
    """One environment variable: how it is read and what it means."""

    name: str
    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    above: float | None = None  # strictly greater than
    shown: str | None = None  # the documented default when it is derived at load time
    lower: bool = False  # lists: lower-case the items
    secret: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")

    def read(self) -> Any:
        """The value from the environment, else the default."""
        if self.kind == "int":
            return env.integer(self.name, self.default, low=self.low, high=self.high)
        if self.kind == "number":
            return env.number(
                self.name, self.default, low=self.low, high=self.high, above=self.above
            )
        if self.kind == "flag":
            return env.flag(self.name, self.default)
        if self.kind == "list":
            return env.names(self.name, self.default, lower=self.lower)
        if self.kind == "path":
            return env.path(self.name, self.default)
        return env.text(self.name, self.default)

    def type_text(self) -> str:
        """The accepted values, as the docs show them."""
        bounded = self.low is not None or self.high is not None or self.above is not None
        limits = f" {env.range_text(self.low, self.high, self.above)}" if bounded else ""
        return {
            "int": f"integer{limits}",
            "number": f"number{limits}",
            "flag": "true/false",
            "list": "comma list",
            "path": "path",
            "text": "secret" if self.secret else "text",
        }[self.kind]

    def default_text(self) -> str:
        """The default as the docs show it (empty: unset)."""
        if self.shown is not None:
            return self.shown
        value = self.default
        if value is None or value == ():
            return ""
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, tuple):
            return ",".join(str(v) for v in value)
        if isinstance(value, Path):
            return str(value)
        return f"{value:g}" if isinstance(value, float) else str(value)


def setting(name: str, kind: str, default: Any = None, doc: str = "", **options: Any):
    """A dataclass field declared by environment variable ``name`` (see :class:`Var`).

    Secrets are left out of the dataclass ``repr``.
    """
    var = Var(name, kind, default, doc, **options)
    return dataclasses.field(default=default, repr=not var.secret, metadata={"var": var})


def declared(cls: type) -> list[Var]:
    """The variables of a settings dataclass, in field order."""
    return [f.metadata["var"] for f in dataclasses.fields(cls) if "var" in f.metadata]


def read_fields(cls: type) -> dict[str, Any]:
    """``{field: value}`` for every declared field of ``cls``, read from the environment."""
    return {
        f.name: f.metadata["var"].read() for f in dataclasses.fields(cls) if "var" in f.metadata
    }
