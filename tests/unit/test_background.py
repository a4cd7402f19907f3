"""run_ahead: order, look-ahead bound, failures raised in the caller, and
early stops that close the producer and leave no thread behind."""

from __future__ import annotations

import threading
import time

import pytest

from enrichment.background import run_ahead


def test_items_come_in_order_and_from_another_thread():
    threads = []

    def produce():
        for n in range(50):
            threads.append(threading.get_ident())
            yield n

    assert list(run_ahead(produce, ahead=3)) == list(range(50))
    assert set(threads) == {threads[0]} and threads[0] != threading.get_ident()


def test_the_producer_stays_at_most_ahead_items_ahead():
    produced = []

    def produce():
        for n in range(100):
            produced.append(n)
            yield n

    items = run_ahead(produce, ahead=2)
    assert next(items) == 0
    time.sleep(0.3)  # time enough to run ahead as far as it may
    # taken 1, at most 2 queued, one more produced and waiting to be queued
    assert len(produced) <= 4
    assert list(items) == list(range(1, 100))


def test_a_failure_is_raised_where_its_item_would_have_come():
    def produce():
        yield 1
        yield 2
        raise ValueError("page 3 is broken")

    got = []
    with pytest.raises(ValueError, match="page 3 is broken"):
        for item in run_ahead(produce):
            got.append(item)
    assert got == [1, 2]


def test_an_early_stop_closes_the_producer_and_joins_its_thread():
    closed = threading.Event()

    def produce():
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    before = threading.active_count()
    items = run_ahead(produce, ahead=1, name="early-stop")
    assert next(items) == 0
    items.close()
    assert closed.is_set()
    assert threading.active_count() == before
    assert not any(t.name == "early-stop" for t in threading.enumerate())
