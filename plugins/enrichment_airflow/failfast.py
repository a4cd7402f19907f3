"""Deterministic errors fail the task at once; everything else keeps its retries.

A wrong parameter, a configuration error, a refused switch, a past interval without a
start or a failed quality check gives the same result on every try: retrying only
delays the message. Those become :class:`AirflowFailException` (no retry); transient
errors (database, network, a lost worker) propagate and retry with backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def deterministic_errors() -> tuple[type[BaseException], ...]:
    """The library's exception types that no retry can fix."""
    from enrichment.bluegreen.vector_versions import SwitchRefused
    from enrichment.config import ConfigError
    from enrichment.quality.evaluate import QualityFailed
    from enrichment.runs.lifecycle import PastIntervalError
    from enrichment.runs.selection import SelectionError

    return (SelectionError, ConfigError, QualityFailed, PastIntervalError, SwitchRefused)


def call(step: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``step(*args, **kwargs)``; a deterministic error fails the task without retry."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return step(*args, **kwargs)
    except deterministic_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
