"""Pull both sides at once: one producer thread per side, one consumer (the engine).

Each producer runs a connector's page iterator and hands pages over through a small bounded
queue, so at most ``prefetch`` pages per side wait in memory. The consumer receives pages in
arrival order and hands them on one unit at a time, which keeps every decision and every state
commit on one thread. An exception in a producer is re-raised in the consumer; stopping the
consumer (``stop`` set, or closing the generator) stops the producers.

A unit is a side's consecutive pages merged up to ``unit`` records (or up to the end of that
side's pull): the work on a unit (counterpart reads, history reads, writes) goes out in full
batches, where a single search page of 200 would leave most write batches of 100 a tenth full.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass

from sync_worker.connectors.base import ChangePage
from sync_worker.kernel.model import Side

_POLL_SECONDS = 0.1
_MAX_READY = 2  # units of one side waiting while the other side's go first


@dataclass(frozen=True, slots=True)
class _Done:
    side: Side


@dataclass(frozen=True, slots=True)
class _Failed:
    side: Side
    error: BaseException


_Item = tuple[Side, ChangePage] | _Done | _Failed


def interleave(
    sources: Mapping[Side, Iterator[ChangePage]],
    *,
    stop: threading.Event | None = None,
    prefetch: int = 2,
    unit: int = 1,
    prefer: Callable[[Side], float] | None = None,
) -> Generator[tuple[Side, ChangePage]]:
    """Yield ``(side, unit)`` from every source as pages arrive, until all are exhausted; a
    unit is one page or several of one side merged (see the module docs). When units of both
    sides are ready, the side with the lowest ``prefer`` score goes first (the engine prefers
    the side whose counterpart reads land on the less busy portal)."""
    halt = threading.Event()
    outbox: queue.Queue[_Item] = queue.Queue(maxsize=prefetch * max(1, len(sources)))
    threads = [
        threading.Thread(
            target=_produce, args=(side, pages, outbox, halt), name=f"pull-{side}", daemon=True
        )
        for side, pages in sources.items()
    ]
    for thread in threads:
        thread.start()
    try:
        inbox = _Inbox(outbox, len(threads), stop, halt)
        yield from _units(inbox, unit, prefer or (lambda _side: 0.0))
    finally:
        halt.set()
        for thread in threads:
            thread.join(timeout=30)


def _units(
    inbox: _Inbox, size: int, prefer: Callable[[Side], float]
) -> Iterator[tuple[Side, ChangePage]]:
    """Merge each side's pages until ``size`` records, or the end of that side's pull; yield
    ready units one at a time, looking at everything that has arrived before choosing."""
    buffers: dict[Side, list[ChangePage]] = {}
    ready: dict[Side, list[ChangePage]] = {}
    while True:
        queued = sum(len(units) for units in ready.values())
        # Look further only while few units wait: what producers hold stays bounded by the
        # queue, and what waits here by a few units, however fast the pulls are.
        items = inbox.take(block=not queued) if queued < 2 * _MAX_READY else []
        if items is None and (inbox.stopped or not queued):
            return
        for item in items or ():
            if isinstance(item, _Done):
                if waiting := buffers.pop(item.side, None):
                    ready.setdefault(item.side, []).append(_merge(waiting))
                continue
            side, page = item
            waiting = buffers.setdefault(side, [])
            waiting.append(page)
            if sum(len(p.records) for p in waiting) >= size:
                ready.setdefault(side, []).append(_merge(buffers.pop(side)))
        sides = [side for side, units in ready.items() if units]
        if sides:
            # The preferred side, unless the other has piled up: memory stays a few units.
            side = max(sides, key=lambda s: (len(ready[s]) > _MAX_READY, -prefer(s)))
            yield side, ready[side].pop(0)


def _merge(pages: list[ChangePage]) -> ChangePage:
    if len(pages) == 1:
        return pages[0]
    records = tuple(r for p in pages for r in p.records)
    return ChangePage(records, pages[-1].cursor, pages[-1].total)


class _Inbox:
    """The consumer's end of the queue: everything that has arrived, at once."""

    def __init__(
        self,
        outbox: queue.Queue[_Item],
        running: int,
        stop: threading.Event | None,
        halt: threading.Event,
    ) -> None:
        self._outbox, self._running, self._stop, self._halt = outbox, running, stop, halt

    @property
    def stopped(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def take(self, *, block: bool) -> list[tuple[Side, ChangePage] | _Done] | None:
        """Items that arrived (waiting for one when ``block``); None once every source is done
        or the consumer is asked to stop."""
        items: list[tuple[Side, ChangePage] | _Done] = []
        while self._running:
            if self._stop is not None and self._stop.is_set():
                return None
            try:
                item = (
                    self._outbox.get(timeout=_POLL_SECONDS)
                    if block and not items
                    else (self._outbox.get_nowait())
                )
            except queue.Empty:
                if items or not block:
                    return items
                continue
            if isinstance(item, _Failed):
                self._halt.set()
                raise item.error
            if isinstance(item, _Done):
                self._running -= 1
            items.append(item)
        return items or None


def _produce(
    side: Side,
    pages: Iterator[ChangePage],
    outbox: queue.Queue[_Item],
    halt: threading.Event,
) -> None:
    try:
        for page in pages:
            if not _put(outbox, (side, page), halt):
                return
    except BaseException as error:  # noqa: BLE001 - handed to the consumer, which re-raises it
        _put(outbox, _Failed(side, error), halt)
        return
    _put(outbox, _Done(side), halt)


def _put(outbox: queue.Queue[_Item], item: _Item, halt: threading.Event) -> bool:
    while not halt.is_set():
        try:
            outbox.put(item, timeout=_POLL_SECONDS)
        except queue.Full:
            continue
        return True
    return False
