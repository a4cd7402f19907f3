"""A per-item time budget: work on one item checks it and stops when it is spent.

The shard worker gives every item a :class:`Deadline`; signals call
:meth:`Deadline.check` between steps and inside long loops, and an item over its
budget raises :class:`TimeBudgetExceeded`, which the worker turns into a quarantine
record (reason ``time_budget``) while the shard goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TimeBudgetExceeded(Exception):
    """An item used more than its time budget."""


class Deadline:
    """Seconds allowed from creation; ``seconds=None`` never expires."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.started = clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def check(self, step: str) -> None:
        """Raise :class:`TimeBudgetExceeded` when the budget is spent."""
        if self.seconds is not None and self.elapsed() > self.seconds:
            raise TimeBudgetExceeded(
                f"over the {self.seconds:g} s per-item budget during {step} "
                f"({self.elapsed():.1f} s)"
            )
