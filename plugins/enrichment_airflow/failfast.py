"""Deterministic errors fail the task at once; everything else keeps its retries.

A wrong parameter, a configuration error, a refused switch, a past interval without a
start or a failed quality check gives the same result on every try: retrying only
delays the message. Those become :class:`AirflowFailException` (no retry); transient
errors (database, network, a lost worker) propagate and retry with backoff.

Every library call from a task goes through :func:`call`, so it is also where the
credentials of Airflow Connections take effect.
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
    """``step(*args, **kwargs)`` with the Airflow Connections' settings in effect
    (``enrichment_airflow.connections``); a deterministic error fails the task without retry.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from enrichment_airflow.connections import connection_environment

    try:
        with connection_environment():
            return step(*args, **kwargs)
    except deterministic_errors() as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
