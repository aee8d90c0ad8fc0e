"""The state store port: everything the worker remembers between cycles.

Per pair it keeps: a cursor per side; links (partner id <-> rep id) each with the **base** (the
canonical values both sides last agreed on, as JSON) and when the worker last wrote each side;
creations in flight; conflicts awaiting a person; dead letters; an audit log of applied changes;
a run log; and leases so that one process at a time works on a pair. An **inbox** per pair (and
per rep endpoint) holds ids of deals known to have changed, written by rep discovery or a
webhook and drained by the page that processes them.

Rules every implementation keeps (``tests/state`` runs one contract suite over SQLite and
PostgreSQL):

* :meth:`StateStore.commit_page` is **one transaction**: links, bases, change log, conflicts,
  dead letters and the cursor land together or not at all. The engine calls it only after the
  writes it describes have landed in the CRMs.
* A cursor never moves backwards: committing an older cursor keeps the newer one.
* Writers are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: row upserts), so concurrent
  processes never lose an update.
* All datetimes in and out are aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sync_worker.kernel.model import BySide, DealRecord, Side
from sync_worker.state.progress import PairProgress


class LinkStatus(StrEnum):
    """Whether a link still syncs."""

    ACTIVE = "active"
    GONE = "gone"
    """A side was archived or deleted: kept as a tombstone, never re-created."""
    PENDING = "pending"
    """Its rep id is provisional and may still be re-pointed (no other state may be)."""


@dataclass(frozen=True, slots=True)
class LinkState:
    """One linked shared deal as stored. ``status``: ``active`` or ``gone`` (a side was archived
    or deleted; the link is kept as a tombstone so the worker never re-creates a counterpart).
    ``*_written_at`` is the newest version of each side's deal the worker has reconciled or
    written (its modification time): a pulled snapshot older than that is stale. ``*_seen``
    fingerprint each side's mapped values after the worker's last look or write: a pulled record
    with the same fingerprint changed nothing the worker cares about. ``origin``: the side the
    shared deal was created on (its scope decides whether the pair syncs); None for a link
    stored before it was recorded. ``out_of_scope``: why the pair stopped syncing (a deal out of
    scope, in a sentence naming the filter), until it syncs again."""

    partner_id: str
    rep_id: str
    status: LinkStatus = LinkStatus.ACTIVE
    base_json: str | None = None
    base_at: datetime | None = None
    partner_written_at: datetime | None = None
    rep_written_at: datetime | None = None
    partner_seen: str | None = None
    rep_seen: str | None = None
    origin: Side | None = None
    out_of_scope: str | None = None

    def id_on(self, side: Side) -> str:
        return BySide(self.partner_id, self.rep_id)[side]

    def written_at(self, side: Side) -> datetime | None:
        return BySide(self.partner_written_at, self.rep_written_at)[side]

    def seen(self, side: Side) -> str | None:
        """Fingerprint of ``side``'s mapped values as the worker last saw or wrote them."""
        return BySide(self.partner_seen, self.rep_seen)[side]


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """One applied field change, for the audit log and ``explain``. Values are display strings."""

    partner_id: str
    rep_id: str
    side_written: Side
    field: str
    old_value: str | None
    new_value: str | None
    rule: str
    reason: str
    at: datetime
    run_id: str


@dataclass(frozen=True, slots=True)
class ConflictEntry:
    """A conflict the field's rule could not settle (``manual``), awaiting a person."""

    partner_id: str
    rep_id: str
    field: str
    partner_value: str | None
    rep_value: str | None
    base_value: str | None
    detected_at: datetime
    id: int | None = None
    status: str = "open"
    resolution: str | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be synced, with why; retried on later cycles."""

    side: Side
    record_id: str
    reason: str
    attempts: int = 1
    first_at: datetime | None = None
    last_at: datetime | None = None
    next_attempt_at: datetime | None = None
    status: str = "open"
    id: int | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One cycle of one pair."""

    run_id: str
    pair: str
    mode: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A deal known to have changed, waiting for a cycle to read it live.

    ``key`` is a pair name, or :func:`endpoint_key` of a rep endpoint for an id whose pairs are
    found by reading the deal (rep discovery routes it). Queuing the same (key, side, id) again
    moves ``queued_at`` forward and keeps one row."""

    key: str
    side: Side
    record_id: str
    source: str
    """Who found it: ``discovery``, ``webhook``."""
    queued_at: datetime
    record: DealRecord | None = None
    """The search document discovery found (the cycle uses it as a pulled record: a plan that
    writes this side re-reads the deal live first); None for an id only (a webhook): the cycle
    reads the deal live."""


def endpoint_key(endpoint: str) -> str:
    """The inbox key of ids on a rep endpoint not yet routed to their pairs (``:`` never occurs
    in a pair name)."""
    return f"endpoint:{endpoint}"


@dataclass(frozen=True, slots=True)
class Taken:
    """An inbox entry a cycle read. Its page drains it, unless the id was queued again after
    ``queued_at`` (a newer change that this read may have missed stays queued)."""

    side: Side
    record_id: str
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class CursorMark:
    """A cursor to advance in the same transaction as other state."""

    key: str
    side: Side
    at: datetime


@dataclass(frozen=True, slots=True)
class PageCommit:
    """Everything one processed page changes, committed atomically.

    ``links`` are upserted by (pair, partner_id); a link's rep id may change only from a
    pending state. ``dead_letters`` are added (or, for an existing open letter of the same side
    and record, their ``attempts`` incremented and ``reason``/``next_attempt_at`` replaced).
    ``resolved_dead_letters`` lists ``(side, record_id)`` whose open letters are now closed.
    ``conflicts`` are opened (an open conflict for the same partner id and field is replaced).
    ``closed_conflicts`` lists ``(partner_id, field)`` whose open conflicts are closed as
    ``resolution='converged'`` (the sides agree again). ``cursor`` (when not None) is
    advanced for ``cursor_side``. ``pending_done`` lists ``(origin_side, origin_id)`` creations
    that completed.
    """

    links: Sequence[LinkState] = ()
    changes: Sequence[ChangeEntry] = ()
    conflicts: Sequence[ConflictEntry] = ()
    closed_conflicts: Sequence[tuple[str, str]] = ()
    dead_letters: Sequence[DeadLetter] = ()
    resolved_dead_letters: Sequence[tuple[Side, str]] = ()
    pending_done: Sequence[tuple[Side, str]] = ()
    cursor_side: Side | None = None
    cursor: datetime | None = None
    taken: Sequence[Taken] = ()
    """Inbox entries of this pair that the page processed: drained with it."""


@dataclass(frozen=True, slots=True)
class PruneCounts:
    """Rows deleted per kind of history."""

    changes: int = 0
    runs: int = 0
    conflicts: int = 0
    dead_letters: int = 0

    @property
    def total(self) -> int:
        return self.changes + self.runs + self.conflicts + self.dead_letters


@dataclass(frozen=True, slots=True)
class PairStatus:
    """A row of ``sync-worker status``."""

    pair: str
    last_run: RunRecord | None
    partner_cursor: datetime | None
    rep_cursor: datetime | None
    links: int
    open_conflicts: int
    dead_letters: int
    consecutive_failures: int
    lease_holder: str | None = None
    """The process working on the pair right now (``host:pid:id``), if any."""
    out_of_scope: int = 0
    """Active links whose pair is not syncing because a deal is out of scope."""
    inbox: int = 0
    """Changed deals queued for the pair's next cycle."""
    inbox_since: datetime | None = None
    """When the oldest of them was first queued (how far the pair trails its changes)."""

    @property
    def outcome(self) -> str:
        """The last run's outcome; ``running`` or ``interrupted`` when it has none."""
        last = self.last_run
        if last is None:
            return "never run"
        if last.outcome is not None:
            return last.outcome
        # No outcome: running now if a process holds the pair, else that run died unfinished.
        return "running" if self.lease_holder else "interrupted"


class StateStore(Protocol):
    """Durable memory of the worker. Thread-safe: one store is shared by every pair's job."""

    # cursors
    def get_cursor(self, pair: str, side: Side) -> datetime | None: ...

    def get_cursors(self, pairs: Sequence[str], side: Side) -> dict[str, datetime]:
        """The cursors of ``pairs`` on ``side`` that exist (a discovery reads its members')."""
        ...

    # links
    def links_by_ids(self, pair: str, side: Side, ids: Sequence[str]) -> dict[str, LinkState]:
        """Links (any status) whose id on ``side`` is in ``ids``, keyed by that id."""
        ...

    def find_link(self, pair: str, deal_id: str) -> LinkState | None:
        """The link holding ``deal_id`` on either side (for ``explain``)."""
        ...

    def count_links(self, pair: str) -> int: ...

    # the atomic page commit
    def commit_page(self, pair: str, commit: PageCommit) -> None: ...

    # the inbox of changed deals
    def enqueue(
        self,
        entries: Sequence[InboxEntry],
        *,
        cursors: Sequence[CursorMark] = (),
        drained: Sequence[tuple[str, Taken]] = (),
    ) -> None:
        """Queue ``entries``, advance ``cursors`` and drain ``drained`` (key, entry) in one
        transaction: a discovery page lands whole or not at all."""
        ...

    def inbox(self, key: str, side: Side, limit: int) -> list[InboxEntry]:
        """Up to ``limit`` queued entries of ``key`` on ``side``, oldest first."""
        ...

    def inbox_heads(self) -> dict[str, datetime]:
        """Every inbox key holding entries, with its newest queuing (what to wake)."""
        ...

    # daemons sharing the store
    def beat(self, owner: str, pid: int, now: datetime, ttl_seconds: float) -> list[str]:
        """Record that daemon ``owner`` is alive; the live daemons, sorted."""
        ...

    def leave(self, owner: str) -> None:
        """A daemon stopping says so: the others take its pairs at once."""
        ...

    # creations in flight (intent recorded before the create call, cleared by commit_page)
    def add_pending(
        self, pair: str, origin_side: Side, origin_ids: Sequence[str], at: datetime
    ) -> None: ...

    def pending(self, pair: str, origin_side: Side, origin_ids: Sequence[str]) -> set[str]:
        """Which of ``origin_ids`` have a creation in flight from an earlier, interrupted run."""
        ...

    # conflicts
    def open_conflicts(self, pair: str | None = None) -> list[ConflictEntry]: ...

    def resolve_conflict(
        self, conflict_id: int, resolution: str, at: datetime
    ) -> ConflictEntry | None:
        """Close an open conflict; ``resolution`` is ``partner``, ``rep`` or ``dismissed``.
        Returns None when no open conflict has that id."""
        ...

    # dead letters
    def dead_letters(
        self, pair: str | None = None, *, status: str = "open"
    ) -> list[tuple[str, DeadLetter]]:
        """``(pair, letter)`` rows, oldest first."""
        ...

    def due_dead_letters(self, pair: str, now: datetime, limit: int = 500) -> list[DeadLetter]:
        """Open letters of ``pair`` whose ``next_attempt_at`` has passed."""
        ...

    def retry_dead_letters_now(
        self, pair: str | None, ids: Sequence[int] | None, now: datetime
    ) -> int:
        """Make letters due at once (all of a pair's when ``ids`` is None); returns how many."""
        ...

    # audit log
    def changes_for(self, pair: str, partner_id: str, limit: int = 50) -> list[ChangeEntry]:
        """Newest first."""
        ...

    # run log
    def start_run(self, run: RunRecord) -> None: ...

    def finish_run(
        self,
        run_id: str,
        ended_at: datetime,
        outcome: str,
        counts: Mapping[str, int],
        error: str | None,
    ) -> None: ...

    def runs(self, pair: str, limit: int = 200) -> list[RunRecord]:
        """The pair's latest ``limit`` runs, newest first (the console's sync log)."""
        ...

    def prune_history(self, before: datetime) -> PruneCounts:
        """Delete the change log, run log and resolved conflicts and dead letters older than
        ``before``, all pairs; sync state (links, bases, cursors, open items) is never pruned."""
        ...

    def status(self, pairs: Sequence[str]) -> list[PairStatus]: ...

    def progress(self, pairs: Sequence[str]) -> list[PairProgress]:
        """Per pair: the start of its last complete cycle and its last failure."""
        ...

    # one process per pair
    def try_lease(self, pair: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Take or renew the pair's lease for ``owner``; False when another live owner holds it."""
        ...

    def release_lease(self, pair: str, owner: str) -> None: ...

    def close(self) -> None: ...
