"""run_ahead: the loader's checking stage runs in a thread of its own, ahead of pseudonymisation."""

from __future__ import annotations

import threading

import pytest

from ingest.ahead import run_ahead


class Boom(Exception):
    pass


def _count_then_fail(limit: int, fail_at: int | None, closed: list[str]):
    try:
        for i in range(limit):
            if i == fail_at:
                raise Boom(f"item {i}")
            yield i
    finally:
        closed.append(threading.current_thread().name)


def test_items_arrive_in_order_from_another_thread() -> None:
    seen_in: set[str] = set()

    def items():
        for i in range(1000):
            seen_in.add(threading.current_thread().name)
            yield i

    assert list(run_ahead(items(), depth=2, name="ahead-test")) == list(range(1000))
    assert seen_in == {"ahead-test"}


def test_a_failure_is_raised_where_its_item_would_have_been() -> None:
    closed: list[str] = []
    got: list[int] = []
    with pytest.raises(Boom, match="item 5"):
        for item in run_ahead(_count_then_fail(10, 5, closed), depth=3, name="ahead-test"):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]  # everything before the failure, nothing after
    assert closed == ["ahead-test"]


def test_a_consumer_that_stops_early_stops_the_thread_and_closes_the_iterator() -> None:
    closed: list[str] = []
    before = {t.name for t in threading.enumerate()}
    ahead = run_ahead(_count_then_fail(10**9, None, closed), depth=2, name="ahead-early-stop")
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()  # what the loader's generators do when dlt or a retry stops them
    assert closed == ["ahead-early-stop"]  # the producer's `finally` ran, in its own thread
    assert {t.name for t in threading.enumerate()} <= before


def test_an_empty_iterator_ends_at_once() -> None:
    assert list(run_ahead(iter(()), depth=1, name="ahead-test")) == []
