"""Work ahead in a background thread while the caller handles what is already done.

Used where the waiting is outside Python (a database query, a JPEG decode): the thread
waits while the caller's own Python work goes on, so both cores are busy.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


def run_ahead(
    produce: Callable[[], Iterable[T]], ahead: int = 1, name: str = "ahead"
) -> Iterator[T]:
    """The items of ``produce()`` in order, produced in a thread at most ``ahead`` items
    before the caller takes them.

    An exception in ``produce`` is raised in the caller where that item would have come.
    When the caller stops early, the producer is closed at its next item and the thread
    joined before this generator closes, so whatever the producer uses is free again.
    """
    out: queue.Queue = queue.Queue(maxsize=max(1, ahead))
    stop = threading.Event()

    def put(value: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                out.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        items = iter(produce())
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, _DONE))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, daemon=True, name=name)
    thread.start()
    try:
        while True:
            ok, value = out.get()
            if not ok:
                raise value
            if value is _DONE:
                return
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                out.get_nowait()
            except queue.Empty:
                thread.join(0.05)
