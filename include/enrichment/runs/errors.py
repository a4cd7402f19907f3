"""Errors of the run lifecycle (a leaf module: lifecycle, fencing and the worker use them)."""

from __future__ import annotations


class RunError(RuntimeError):
    """A run cannot proceed (missing shard results, unknown run...)."""


class RunFenced(RunError):
    """A run that is not the latest for its scope (or was abandoned) may not write."""
