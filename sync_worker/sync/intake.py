"""What a pair's cycle takes in besides its pulls: its inbox of changed deals (rep discovery's
search documents, webhooks' ids), and which sides it still searches itself.

Kept out of the engine so that the engine only orchestrates: these functions yield batches for
it to process and commit, in the order the module docs of :mod:`.engine` give.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.state.base import InboxEntry, Taken
from sync_worker.sync.context import PairContext


def pulled_sides(ctx: PairContext, since: datetime | None) -> list[Side]:
    """The sides a cycle searches: both, but a discovered rep side only for a backfill
    (``since``) or the pair's first sync (discovery finds the rep changes of every pair)."""
    if not ctx.discovered or since is not None:
        return list(Side)
    if ctx.store.get_cursor(ctx.name, Side.REP) is None:
        return list(Side)
    return [Side.PARTNER]


@dataclass(frozen=True, slots=True)
class Intake:
    """Records to process as one page, and the inbox entries its commit drains."""

    side: Side
    records: list[DealRecord]
    taken: list[Taken]
    read_live: bool
    """Read by id for bare entries (webhooks), not found by a search: scope-checked."""
    entries: int
    """Inbox entries this batch took (for progress)."""


def inbox_batches(
    ctx: PairContext, unit: int, stop: threading.Event | None = None
) -> Iterator[Intake]:
    """The pair's queued changes a unit at a time, oldest first: search documents discovery
    queued as they are, bare ids read live. Each id is taken once per run: one queued again
    while the cycle works waits for the next cycle (a stream of webhooks for one deal cannot
    keep a cycle going)."""
    for side in Side:
        done: set[str] = set()
        while entries := ctx.store.inbox(ctx.name, side, unit):
            fresh = [e for e in entries if e.record_id not in done]
            if not fresh or (stop is not None and stop.is_set()):
                break
            done.update(e.record_id for e in fresh)
            found = [e for e in fresh if e.record is not None]
            bare = [e for e in fresh if e.record is None]
            if found:
                records = [e.record for e in found if e.record is not None]
                yield Intake(side, records, _taken(found), read_live=False, entries=len(found))
            if bare:
                ids = [e.record_id for e in bare]
                live = ctx.connector(side).read(ids, ctx.mapping.properties(side)).found
                records = list(live.values())
                yield Intake(side, records, _taken(bare), read_live=True, entries=len(bare))


def _taken(entries: Sequence[InboxEntry]) -> list[Taken]:
    return [Taken(e.side, e.record_id, e.queued_at) for e in entries]
