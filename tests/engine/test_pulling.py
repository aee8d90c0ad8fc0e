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
