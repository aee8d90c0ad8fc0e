"""The inbox of changed deals, on SQLite and PostgreSQL: what is queued survives a restart, a
page drains only what it read, and a change queued after that read is never dropped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.state import (
    CursorMark,
    InboxEntry,
    PageCommit,
    SqlStateStore,
    Taken,
    endpoint_key,
)
from sync_worker.state.overlay import OverlayStore
from tests.state.conftest import T0


def entry(key: str, record_id: str, minutes: int = 0, side: Side = Side.REP) -> InboxEntry:
    return InboxEntry(key, side, record_id, "discovery", T0 + timedelta(minutes=minutes))


def taken(found: InboxEntry) -> Taken:
    return Taken(found.side, found.record_id, found.queued_at)


def test_entries_come_back_oldest_first_one_row_per_deal(store: SqlStateStore, pair: str) -> None:
    store.enqueue([entry(pair, "b", 1), entry(pair, "a", 2), entry(pair, "b", 3)])
    found = store.inbox(pair, Side.REP, 10)
    assert [(e.record_id, e.queued_at) for e in found] == [
        ("b", T0 + timedelta(minutes=3)),  # first queued first, at its latest queuing
        ("a", T0 + timedelta(minutes=2)),
    ]
    assert store.inbox(pair, Side.PARTNER, 10) == []
    assert [e.record_id for e in store.inbox(pair, Side.REP, 1)] == ["b"]


def test_an_older_queuing_never_moves_an_entry_back(store: SqlStateStore, pair: str) -> None:
    store.enqueue([entry(pair, "a", 5)])
    store.enqueue([entry(pair, "a", 1)])
    (found,) = store.inbox(pair, Side.REP, 10)
    assert found.queued_at == T0 + timedelta(minutes=5)


def test_a_page_drains_what_it_read(store: SqlStateStore, pair: str) -> None:
    store.enqueue([entry(pair, "a"), entry(pair, "b")])
    first, second = store.inbox(pair, Side.REP, 10)
    store.commit_page(pair, PageCommit(taken=[taken(first)]))
    assert store.inbox(pair, Side.REP, 10) == [second]


def test_a_change_queued_after_the_read_stays_queued(store: SqlStateStore, pair: str) -> None:
    """The lost-edit case: the deal changed again while the cycle worked on what it read."""
    store.enqueue([entry(pair, "a", 0)])
    (read,) = store.inbox(pair, Side.REP, 10)
    store.enqueue([entry(pair, "a", 1)])  # a webhook for a newer edit, mid-cycle
    store.commit_page(pair, PageCommit(taken=[taken(read)]))
    (left,) = store.inbox(pair, Side.REP, 10)
    assert left.queued_at == T0 + timedelta(minutes=1)


def test_the_inbox_survives_a_restart(
    store: SqlStateStore, open_more: Callable[[], SqlStateStore], pair: str
) -> None:
    store.enqueue([entry(pair, "a"), entry(pair, "b", side=Side.PARTNER)])
    store.close()
    again = open_more()
    assert [e.record_id for e in again.inbox(pair, Side.REP, 10)] == ["a"]
    assert [e.record_id for e in again.inbox(pair, Side.PARTNER, 10)] == ["b"]


def test_routing_a_page_is_one_transaction(store: SqlStateStore, pair: str) -> None:
    """Discovery queues ids to pairs, drains the endpoint's unrouted ids and moves its cursor
    together: a crash between them would lose a change or re-route it forever."""
    unrouted = endpoint_key("rep")
    store.enqueue([entry(unrouted, "9")])
    (waiting,) = store.inbox(unrouted, Side.REP, 10)
    store.enqueue(
        [entry(pair, "9", 1)],
        cursors=[CursorMark(unrouted, Side.REP, T0 + timedelta(hours=1))],
        drained=[(unrouted, taken(waiting))],
    )
    assert store.inbox(unrouted, Side.REP, 10) == []
    assert [e.record_id for e in store.inbox(pair, Side.REP, 10)] == ["9"]
    assert store.get_cursor(unrouted, Side.REP) == T0 + timedelta(hours=1)


def test_a_page_moves_many_cursors_forward_only(store: SqlStateStore, pair: str) -> None:
    """A discovery page advances its group's cursor and every member pair's rep cursor; one
    that is already newer (a backfill's) stays, and a key given twice takes the newer."""
    late = T0 + timedelta(hours=2)
    store.enqueue([], cursors=[CursorMark("other", Side.REP, late)])
    marks = [
        CursorMark(pair, Side.REP, T0),
        CursorMark(pair, Side.REP, T0 + timedelta(hours=1)),
        CursorMark("other", Side.REP, T0 + timedelta(hours=1)),
        *(CursorMark(f"pair-{k:04d}", Side.REP, T0) for k in range(1_000)),
    ]
    store.enqueue([], cursors=marks)
    assert store.get_cursor(pair, Side.REP) == T0 + timedelta(hours=1)
    assert store.get_cursor("other", Side.REP) == late
    assert store.get_cursor("pair-0999", Side.REP) == T0
    assert store.get_cursor(pair, Side.PARTNER) is None
    wanted = [pair, "other", "never-synced", *(f"pair-{k:04d}" for k in range(1_000))]
    found = store.get_cursors(wanted, Side.REP)
    assert len(found) == 1_002
    assert (found[pair], found["other"], found["pair-0500"]) == (T0 + timedelta(hours=1), late, T0)
    assert store.get_cursors([pair], Side.PARTNER) == {}


def test_status_reports_depth_and_age(store: SqlStateStore, pair: str) -> None:
    store.enqueue([entry(pair, "a", 2), entry(pair, "b", 7, side=Side.PARTNER)])
    store.enqueue([entry(pair, "a", 9)])
    (row,) = store.status([pair])
    assert (row.inbox, row.inbox_since) == (2, T0 + timedelta(minutes=2))


def test_a_dry_run_queues_and_drains_only_in_memory(store: SqlStateStore, pair: str) -> None:
    store.enqueue([entry(pair, "a")])
    overlay = OverlayStore(store)
    overlay.enqueue([entry(pair, "b", 1)])
    first, second = overlay.inbox(pair, Side.REP, 10)
    assert (first.record_id, second.record_id) == ("a", "b")
    overlay.commit_page(pair, PageCommit(taken=[taken(first)]))
    assert overlay.inbox(pair, Side.REP, 10) == [second]
    assert [e.record_id for e in store.inbox(pair, Side.REP, 10)] == ["a"]


def test_a_search_document_comes_back_whole(store: SqlStateStore, pair: str) -> None:
    """Discovery queues what its search found, so the pair's cycle needs no read of its own."""
    found = DealRecord("7", {"amount": "12.5", "dealname": None}, T0 + timedelta(seconds=3))
    store.enqueue([InboxEntry(pair, Side.REP, "7", "discovery", T0, found)])
    store.enqueue([InboxEntry(pair, Side.REP, "8", "webhook", T0)])
    first, second = store.inbox(pair, Side.REP, 10)
    assert first.record == found
    assert second.record is None
