"""The state a dry run sees: a real store underneath, read-only, with the dry run's own commits
held in memory on top.

A dry run must decide exactly as the real run would (a pair settled on one side's page is not
planned again on the other side's, a cursor moves on), so it needs a store that takes its
commits; and it must never write the real state (a dry-run backfill next to a running daemon
changes nothing the daemon relies on). :class:`OverlayStore` implements the whole
:class:`~sync_worker.state.base.StateStore` port that way: links and cursors committed by the
dry run are read back from memory; history it would have written (changes, conflicts, dead
letters, runs) is kept in memory too and never reaches the real store; leases are not taken,
since nothing real is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sync_worker.kernel.model import Side
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
    StateStore,
    Taken,
)
from sync_worker.state.progress import PairProgress


class OverlayStore:
    """A :class:`StateStore` over ``real`` that never writes to it."""

    def __init__(self, real: StateStore) -> None:
        self._real = real
        self._links: dict[tuple[str, Side, str], LinkState] = {}
        self._cursors: dict[tuple[str, Side], datetime] = {}
        self._pending: set[tuple[str, Side, str]] = set()
        self._queued: dict[tuple[str, Side, str], InboxEntry] = {}
        self._drained: dict[tuple[str, Side, str], datetime] = {}
        self.commits: list[tuple[str, PageCommit]] = []
        """Every page the dry run committed, in order (what a real run would have stored)."""
        self.started: list[RunRecord] = []
        """The dry run's own runs (never logged in the real store)."""

    # cursors
    def get_cursor(self, pair: str, side: Side) -> datetime | None:
        return self._cursors.get((pair, side)) or self._real.get_cursor(pair, side)

    def get_cursors(self, pairs: Sequence[str], side: Side) -> dict[str, datetime]:
        found = self._real.get_cursors(pairs, side)
        mine = {p: self._cursors[(p, side)] for p in pairs if (p, side) in self._cursors}
        return found | mine

    # links
    def links_by_ids(self, pair: str, side: Side, ids: Sequence[str]) -> dict[str, LinkState]:
        found = self._real.links_by_ids(pair, side, ids)
        for deal_id in ids:
            if (pair, side, deal_id) in self._links:
                found[deal_id] = self._links[(pair, side, deal_id)]
        return found

    def find_link(self, pair: str, deal_id: str) -> LinkState | None:
        for side in Side:
            if (pair, side, deal_id) in self._links:
                return self._links[(pair, side, deal_id)]
        return self._real.find_link(pair, deal_id)

    def count_links(self, pair: str) -> int:
        new = {
            link.partner_id
            for (p, side, _), link in self._links.items()
            if p == pair and side is Side.PARTNER
        }
        known = self._real.links_by_ids(pair, Side.PARTNER, sorted(new))
        return self._real.count_links(pair) + len(new - known.keys())

    def commit_page(self, pair: str, commit: PageCommit) -> None:
        for link in commit.links:
            self._links[(pair, Side.PARTNER, link.partner_id)] = link
            self._links[(pair, Side.REP, link.rep_id)] = link
        if commit.cursor is not None and commit.cursor_side is not None:
            key = (pair, commit.cursor_side)
            known = self.get_cursor(pair, commit.cursor_side)
            if known is None or commit.cursor > known:  # a cursor never moves backwards
                self._cursors[key] = commit.cursor
        for side, origin_id in commit.pending_done:
            self._pending.discard((pair, side, origin_id))
        self._drain(pair, commit.taken)
        self.commits.append((pair, commit))

    # the inbox: queued in memory over the real one; drained entries hidden, never deleted
    def enqueue(
        self,
        entries: Sequence[InboxEntry],
        *,
        cursors: Sequence[CursorMark] = (),
        drained: Sequence[tuple[str, Taken]] = (),
    ) -> None:
        for entry in entries:
            self._queued[(entry.key, entry.side, entry.record_id)] = entry
        for key, taken in drained:
            self._drain(key, [taken])
        for cursor in cursors:
            known = self.get_cursor(cursor.key, cursor.side)
            if known is None or cursor.at > known:
                self._cursors[(cursor.key, cursor.side)] = cursor.at

    def inbox(self, key: str, side: Side, limit: int) -> list[InboxEntry]:
        found = {
            (e.key, e.side, e.record_id): e
            for e in self._real.inbox(key, side, limit + len(self._drained))
        }
        found.update({k: e for k, e in self._queued.items() if k[0] == key and k[1] is side})
        alive = [
            e for k, e in found.items() if k not in self._drained or e.queued_at > self._drained[k]
        ]
        return sorted(alive, key=lambda e: (e.queued_at, e.record_id))[:limit]

    def inbox_heads(self) -> dict[str, datetime]:
        return self._real.inbox_heads()

    # daemons: a dry run is none
    def beat(self, owner: str, pid: int, now: datetime, ttl_seconds: float) -> list[str]:
        return [owner]

    def leave(self, owner: str) -> None:
        """Never joined."""

    def _drain(self, key: str, taken: Sequence[Taken]) -> None:
        for entry in taken:
            self._drained[(key, entry.side, entry.record_id)] = entry.queued_at

    # creations in flight
    def add_pending(
        self, pair: str, origin_side: Side, origin_ids: Sequence[str], at: datetime
    ) -> None:
        self._pending.update((pair, origin_side, i) for i in origin_ids)

    def pending(self, pair: str, origin_side: Side, origin_ids: Sequence[str]) -> set[str]:
        mine = {i for i in origin_ids if (pair, origin_side, i) in self._pending}
        return mine | self._real.pending(pair, origin_side, origin_ids)

    # conflicts, dead letters, history: read from the real store; a dry run writes none
    def open_conflicts(self, pair: str | None = None) -> list[ConflictEntry]:
        return self._real.open_conflicts(pair)

    def resolve_conflict(
        self, conflict_id: int, resolution: str, at: datetime
    ) -> ConflictEntry | None:
        return next((c for c in self._real.open_conflicts() if c.id == conflict_id), None)

    def dead_letters(
        self, pair: str | None = None, *, status: str = "open"
    ) -> list[tuple[str, DeadLetter]]:
        return self._real.dead_letters(pair, status=status)

    def due_dead_letters(self, pair: str, now: datetime, limit: int = 500) -> list[DeadLetter]:
        return self._real.due_dead_letters(pair, now, limit)

    def retry_dead_letters_now(
        self, pair: str | None, ids: Sequence[int] | None, now: datetime
    ) -> int:
        return 0

    def changes_for(self, pair: str, partner_id: str, limit: int = 50) -> list[ChangeEntry]:
        return self._real.changes_for(pair, partner_id, limit)

    def start_run(self, run: RunRecord) -> None:
        self.started.append(run)

    def finish_run(
        self,
        run_id: str,
        ended_at: datetime,
        outcome: str,
        counts: Mapping[str, int],
        error: str | None,
    ) -> None:
        """A dry run's run is reported by the command, not logged in the state."""

    def runs(self, pair: str, limit: int = 200) -> list[RunRecord]:
        return self._real.runs(pair, limit)

    def prune_history(self, before: datetime) -> PruneCounts:
        return PruneCounts()

    def status(self, pairs: Sequence[str]) -> list[PairStatus]:
        return self._real.status(pairs)

    def progress(self, pairs: Sequence[str]) -> list[PairProgress]:
        return self._real.progress(pairs)

    # leases: a dry run writes nothing real, so it needs none and blocks no one
    def try_lease(self, pair: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        return True

    def release_lease(self, pair: str, owner: str) -> None:
        """Nothing was taken."""

    def close(self) -> None:
        """The real store belongs to whoever opened it."""
