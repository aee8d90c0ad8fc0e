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
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass

from sync_worker.connectors.base import ChangePage
from sync_worker.kernel.model import Side

_POLL_SECONDS = 0.1


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
) -> Generator[tuple[Side, ChangePage]]:
    """Yield ``(side, unit)`` from every source as pages arrive, until all are exhausted; a
    unit is one page or several of one side merged (see the module docs)."""
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
        yield from _units(_consume(outbox, len(threads), stop, halt), unit)
    finally:
        halt.set()
        for thread in threads:
            thread.join(timeout=30)


def _units(
    items: Iterator[tuple[Side, ChangePage] | _Done], size: int
) -> Iterator[tuple[Side, ChangePage]]:
    """Merge each side's pages until ``size`` records, or the end of that side's pull."""
    buffers: dict[Side, list[ChangePage]] = {}
    for item in items:
        if isinstance(item, _Done):
            if waiting := buffers.pop(item.side, None):
                yield item.side, _merge(waiting)
            continue
        side, page = item
        waiting = buffers.setdefault(side, [])
        waiting.append(page)
        if sum(len(p.records) for p in waiting) >= size:
            yield side, _merge(buffers.pop(side))


def _merge(pages: list[ChangePage]) -> ChangePage:
    if len(pages) == 1:
        return pages[0]
    records = tuple(r for p in pages for r in p.records)
    return ChangePage(records, pages[-1].cursor, pages[-1].total)


def _consume(
    outbox: queue.Queue[_Item],
    running: int,
    stop: threading.Event | None,
    halt: threading.Event,
) -> Iterator[tuple[Side, ChangePage] | _Done]:
    while running:
        if stop is not None and stop.is_set():
            return
        try:
            item = outbox.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue
        if isinstance(item, _Done):
            running -= 1
            yield item
        elif isinstance(item, _Failed):
            halt.set()
            raise item.error
        else:
            yield item


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
