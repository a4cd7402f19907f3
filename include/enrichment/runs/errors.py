"""Errors of the run lifecycle (a leaf module: lifecycle, fencing and the worker use them)."""

from __future__ import annotations


class RunError(RuntimeError):
    """A run cannot proceed (missing shard results, unknown run...)."""


class ManifestMissing(RunError, FileNotFoundError):
    """A shard's manifest is not in the shard store (unknown run or shard, or no detect)."""


class RunFenced(RunError):
    """A run that is not the latest for its scope (or was abandoned) may not write."""
