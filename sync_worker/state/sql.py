"""The SQL state store: one class for SQLite and PostgreSQL (SQLAlchemy Core).

Thread-safe: it keeps no mutable state of its own besides the engine's pool and the lease
holder, and every method runs in a transaction of its own. On SQLite, writers BEGIN IMMEDIATE
and readers a deferred BEGIN.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, Engine, or_, select

from sync_worker.kernel.clock import Clock
from sync_worker.kernel.model import BySide, Side
from sync_worker.state import inbox, replicas, rows
from sync_worker.state.base import (
    ChangeEntry,
    ConflictEntry,
    CursorMark,
    DeadLetter,
    InboxEntry,
    LinkState,
    PageCommit,
    PairStatus,
    PruneCounts,
    RunRecord,
    Taken,
)
from sync_worker.state.connect import READ_ONLY
from sync_worker.state.lease import Leases
from sync_worker.state.page import advance_cursors, apply_page, chunks, insert_for
from sync_worker.state.progress import PairProgress, pair_progress
from sync_worker.state.retention import prune
from sync_worker.state.schema import (
    changes,
    conflicts,
    cursors,
    dead_letters,
    links,
    pending,
    runs,
)
from sync_worker.state.status import count_active_links, pair_status


class SqlStateStore:
    """:class:`~sync_worker.state.base.StateStore` over a SQLAlchemy engine.

    ``clock`` stamps the store's own bookkeeping (``created_at``/``updated_at`` and the
    ``resolved_at`` of conflicts a page closes); every other time comes from the caller.
    """

    def __init__(self, engine: Engine, leases: Leases, clock: Clock) -> None:
        self._engine = engine
        self._leases = leases
        self._clock = clock

    @property
    def engine(self) -> Engine:
        return self._engine

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction; on SQLite a deferred BEGIN, so WAL readers never wait for
        a writer (a transaction that only reads cannot lose an update)."""
        with self._engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

    # cursors
    def get_cursor(self, pair: str, side: Side) -> datetime | None:
        with self._read() as conn:
            found: datetime | None = conn.execute(
                select(cursors.c.cursor).where(cursors.c.pair == pair, cursors.c.side == side.value)
            ).scalar_one_or_none()
        return found

    def get_cursors(self, pairs: Sequence[str], side: Side) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        with self._read() as conn:
            for chunk in chunks(list(pairs)):
                query = select(cursors.c.pair, cursors.c.cursor).where(
                    cursors.c.pair.in_(chunk), cursors.c.side == side.value
                )
                found.update({row.pair: row.cursor for row in conn.execute(query)})
        return found

    # links
    def links_by_ids(self, pair: str, side: Side, ids: Sequence[str]) -> dict[str, LinkState]:
        """Links (any status) whose id on ``side`` is in ``ids``, keyed by that id."""
        column = BySide(links.c.partner_id, links.c.rep_id)[side]
        found: dict[str, LinkState] = {}
        with self._read() as conn:
            for chunk in chunks(ids):
                query = select(links).where(links.c.pair == pair, column.in_(chunk))
                for row in conn.execute(query):
                    link = rows.link(row)
                    found[link.id_on(side)] = link
        return found

    def find_link(self, pair: str, deal_id: str) -> LinkState | None:
        """The link holding ``deal_id`` on either side; the partner side wins if both match."""
        query = (
            select(links)
            .where(
                links.c.pair == pair, or_(links.c.partner_id == deal_id, links.c.rep_id == deal_id)
            )
            .order_by((links.c.partner_id == deal_id).desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else rows.link(row)

    def count_links(self, pair: str) -> int:
        """Active links of ``pair`` (tombstones of gone deals are not counted)."""
        with self._read() as conn:
            return count_active_links(conn, pair)

    # the atomic page commit
    def commit_page(self, pair: str, commit: PageCommit) -> None:
        """Everything in ``commit`` in one transaction (see :class:`PageCommit`).

        Raises LinkRepointed (nothing lands) when a non-pending link's rep id changes,
        and the driver's IntegrityError (nothing lands) when a rep id is linked twice.
        """
        with self._engine.begin() as conn:
            apply_page(conn, pair, commit, self._clock.now())
            inbox.drain(conn, pair, commit.taken)

    # the inbox of changed deals
    def enqueue(
        self,
        entries: Sequence[InboxEntry],
        *,
        cursors: Sequence[CursorMark] = (),
        drained: Sequence[tuple[str, Taken]] = (),
    ) -> None:
        with self._engine.begin() as conn:
            inbox.queue(conn, entries)
            for key, taken in drained:
                inbox.drain(conn, key, [taken])
            advance_cursors(conn, cursors, self._clock.now())

    def inbox(self, key: str, side: Side, limit: int) -> list[InboxEntry]:
        with self._read() as conn:
            return inbox.oldest(conn, key, side, limit)

    # daemons sharing the store
    def beat(self, owner: str, pid: int, now: datetime, ttl_seconds: float) -> list[str]:
        with self._engine.begin() as conn:
            return replicas.beat(conn, owner, pid, now, ttl_seconds)

    def leave(self, owner: str) -> None:
        with self._engine.begin() as conn:
            replicas.leave(conn, owner)

    def inbox_heads(self) -> dict[str, datetime]:
        with self._read() as conn:
            return replicas.inbox_heads(conn)

    # creations in flight
    def add_pending(
        self, pair: str, origin_side: Side, origin_ids: Sequence[str], at: datetime
    ) -> None:
        """Record intents to create; an intent already recorded keeps its first time."""
        values = [
            {"pair": pair, "origin_side": origin_side.value, "origin_id": i, "created_at": at}
            for i in dict.fromkeys(origin_ids)
        ]
        if not values:
            return
        with self._engine.begin() as conn:
            conn.execute(insert_for(conn, pending).on_conflict_do_nothing(), values)

    def pending(self, pair: str, origin_side: Side, origin_ids: Sequence[str]) -> set[str]:
        """Which of ``origin_ids`` have a creation in flight from an earlier, interrupted run."""
        found: set[str] = set()
        with self._read() as conn:
            for chunk in chunks(origin_ids):
                query = select(pending.c.origin_id).where(
                    pending.c.pair == pair,
                    pending.c.origin_side == origin_side.value,
                    pending.c.origin_id.in_(chunk),
                )
                found.update(conn.execute(query).scalars())
        return found

    # conflicts
    def open_conflicts(self, pair: str | None = None) -> list[ConflictEntry]:
        """Open conflicts, oldest first."""
        query = select(conflicts).where(conflicts.c.status == "open")
        if pair is not None:
            query = query.where(conflicts.c.pair == pair)
        with self._read() as conn:
            found = conn.execute(query.order_by(conflicts.c.detected_at, conflicts.c.id))
            return [rows.conflict(row) for row in found]

    def resolve_conflict(
        self, conflict_id: int, resolution: str, at: datetime
    ) -> ConflictEntry | None:
        """Close an open conflict; ``resolution`` is ``partner``, ``rep`` or ``dismissed``.
        Returns None when no open conflict has that id."""
        stmt = (
            conflicts.update()
            .where(conflicts.c.id == conflict_id, conflicts.c.status == "open")
            .values(status="resolved", resolution=resolution, resolved_at=at)
            .returning(*conflicts.c)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else rows.conflict(row)

    # dead letters
    def dead_letters(
        self, pair: str | None = None, *, status: str = "open"
    ) -> list[tuple[str, DeadLetter]]:
        """``(pair, letter)`` rows with ``status`` (``open`` or ``resolved``), oldest first."""
        query = select(dead_letters).where(dead_letters.c.status == status)
        if pair is not None:
            query = query.where(dead_letters.c.pair == pair)
        query = query.order_by(dead_letters.c.first_at, dead_letters.c.id)
        with self._read() as conn:
            return [(row.pair, rows.dead_letter(row)) for row in conn.execute(query)]

    def due_dead_letters(self, pair: str, now: datetime, limit: int = 500) -> list[DeadLetter]:
        """Open letters of ``pair`` whose ``next_attempt_at`` has passed, the longest-waiting
        first. A letter without ``next_attempt_at`` is parked: only a retry-now makes it due."""
        query = (
            select(dead_letters)
            .where(
                dead_letters.c.pair == pair,
                dead_letters.c.status == "open",
                dead_letters.c.next_attempt_at <= now,
            )
            .order_by(dead_letters.c.next_attempt_at, dead_letters.c.id)
            .limit(limit)
        )
        with self._read() as conn:
            return [rows.dead_letter(row) for row in conn.execute(query)]

    def retry_dead_letters_now(
        self, pair: str | None, ids: Sequence[int] | None, now: datetime
    ) -> int:
        """Make open letters (parked ones too) due at ``now``: those in ``ids``, or all of
        ``pair``'s (every pair's when ``pair`` is None) when ``ids`` is None; returns how many."""
        stmt = dead_letters.update().where(dead_letters.c.status == "open")
        if pair is not None:
            stmt = stmt.where(dead_letters.c.pair == pair)
        if ids is not None:
            stmt = stmt.where(dead_letters.c.id.in_(list(ids)))
        with self._engine.begin() as conn:
            return conn.execute(stmt.values(next_attempt_at=now)).rowcount

    # audit log
    def changes_for(self, pair: str, partner_id: str, limit: int = 50) -> list[ChangeEntry]:
        """Newest first."""
        query = (
            select(changes)
            .where(changes.c.pair == pair, changes.c.partner_id == partner_id)
            .order_by(changes.c.at.desc(), changes.c.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [rows.change(row) for row in conn.execute(query)]

    # run log
    def start_run(self, run: RunRecord) -> None:
        with self._engine.begin() as conn:
            conn.execute(runs.insert().values(rows.run_values(run)))

    def finish_run(
        self,
        run_id: str,
        ended_at: datetime,
        outcome: str,
        counts: Mapping[str, int],
        error: str | None,
    ) -> None:
        """Record how the run ended; KeyError when ``run_id`` was never started."""
        stmt = (
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(
                ended_at=ended_at, outcome=outcome, counts=json.dumps(dict(counts)), error=error
            )
        )
        with self._engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise KeyError(f"no run {run_id!r} was started")

    def runs(self, pair: str, limit: int = 200) -> list[RunRecord]:
        """The pair's latest ``limit`` runs, newest first."""
        query = (
            select(runs)
            .where(runs.c.pair == pair)
            .order_by(runs.c.started_at.desc(), runs.c.run_id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [rows.run(row) for row in conn.execute(query)]

    def prune_history(self, before: datetime) -> PruneCounts:
        """Delete audit history older than ``before``; see :mod:`sync_worker.state.retention`."""
        return prune(self._engine.begin, before)

    def status(self, pairs: Sequence[str]) -> list[PairStatus]:
        """One row per pair, in the order given; ``consecutive_failures`` counts the ``failed``
        runs since the last run that finished with any other outcome."""
        with self._read() as conn:
            found = [pair_status(conn, pair) for pair in pairs]
        now = self._clock.now()
        held = self._leases.holders(list(pairs), now)
        return [replace(row, lease_holder=held.get(row.pair)) for row in found]

    def progress(self, pairs: Sequence[str]) -> list[PairProgress]:
        with self._read() as conn:
            return [pair_progress(conn, pair) for pair in pairs]

    # one process per pair
    def try_lease(self, pair: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        """Take or renew the pair's lease for ``owner``; False when another live owner holds it."""
        return self._leases.try_lease(pair, owner, now, ttl_seconds)

    def release_lease(self, pair: str, owner: str) -> None:
        self._leases.release(pair, owner)

    def close(self) -> None:
        """Release held leases and dispose the engine's connections."""
        try:
            self._leases.close()
        finally:
            self._engine.dispose()
