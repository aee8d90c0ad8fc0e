"""Both sides pulled at once: every page arrives, errors surface, stop stops, memory is bounded."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sync_worker.connectors.base import ChangePage
from sync_worker.kernel.errors import TransientError
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.sync.pull import interleave

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def pages(prefix: str, count: int) -> Iterator[ChangePage]:
    for n in range(count):
        yield ChangePage((DealRecord(f"{prefix}{n}", {}, T0),), T0)


def test_every_page_of_both_sides_arrives_in_order_per_side() -> None:
    got = list(interleave({Side.PARTNER: pages("p", 5), Side.REP: pages("r", 3)}))
    by_side = {side: [page.records[0].id for s, page in got if s is side] for side in Side}
    assert by_side == {Side.PARTNER: ["p0", "p1", "p2", "p3", "p4"], Side.REP: ["r0", "r1", "r2"]}


def test_a_failing_side_raises_in_the_consumer() -> None:
    def failing() -> Iterator[ChangePage]:
        yield from pages("r", 1)
        raise TransientError("search failed", status=502)

    with pytest.raises(TransientError, match="search failed"):
        list(interleave({Side.PARTNER: pages("p", 1000), Side.REP: failing()}))


def test_stop_ends_the_pull_and_the_producers() -> None:
    stop = threading.Event()
    produced = itertools.count()

    def endless() -> Iterator[ChangePage]:
        for n in produced:
            yield ChangePage((DealRecord(str(n), {}, T0),), T0)

    seen = 0
    for _ in interleave({Side.PARTNER: endless()}, stop=stop):
        seen += 1
        if seen == 3:
            stop.set()
    assert seen == 3
    assert not any(t.name.startswith("pull-") and t.is_alive() for t in threading.enumerate())


def test_a_slow_consumer_bounds_what_producers_hold() -> None:
    made: list[int] = []

    def counted() -> Iterator[ChangePage]:
        for n in range(100):
            made.append(n)
            yield ChangePage((DealRecord(str(n), {}, T0),), T0)

    stream = interleave({Side.PARTNER: counted()}, prefetch=2)
    next(stream)
    threading.Event().wait(0.3)  # give the producer every chance to run ahead
    # The page consumed, what the consumer looked at before choosing (the queue's two), the
    # queue's two again, and one blocked in put: bounded, whatever the source's length.
    assert len(made) <= 6
    stream.close()


def test_merged_units_keep_what_waits_bounded_however_fast_the_pulls() -> None:
    """Units of 5 pages from two fast sources and a slow consumer: the pages made but not yet
    handed on stay a few units' worth, not the whole pull."""
    made = {Side.PARTNER: 0, Side.REP: 0}

    def counted(side: Side) -> Iterator[ChangePage]:
        for n in range(400):
            made[side] += 1
            yield ChangePage((DealRecord(f"{side}{n}", {}, T0),), T0)

    stream = interleave({side: counted(side) for side in Side}, prefetch=5, unit=5)
    consumed = 0
    most_waiting = 0
    for _, unit in itertools.islice(stream, 40):
        consumed += len(unit.records)
        threading.Event().wait(0.01)  # a slow consumer: the producers run ahead
        most_waiting = max(most_waiting, sum(made.values()) - consumed)
    stream.close()

    # The queue (10 pages), four ready units (20), a unit being filled per side (10), and a
    # page blocked in each producer's put.
    assert most_waiting <= 10 + 20 + 10 + 2
