"""The StateStore contract, run on SQLite and PostgreSQL alike (see conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.model import Side
from sync_worker.state import (
    ChangeEntry,
    ConflictEntry,
    DeadLetter,
    LinkRepointed,
    LinkState,
    PageCommit,
    SqlStateStore,
)
from sync_worker.state.base import LinkStatus
from tests.state.conftest import T0

P = "acme"


def change(partner_id: str, field: str, at_min: int, new: str = "v") -> ChangeEntry:
    return ChangeEntry(
        partner_id=partner_id,
        rep_id=f"r{partner_id}",
        side_written=Side.REP,
        field=field,
        old_value=None,
        new_value=new,
        rule="newest_wins",
        reason="partner changed",
        at=T0 + timedelta(minutes=at_min),
        run_id="run-1",
    )


def conflict(partner_id: str, field: str, partner_value: str = "a") -> ConflictEntry:
    return ConflictEntry(
        partner_id=partner_id,
        rep_id=f"r{partner_id}",
        field=field,
        partner_value=partner_value,
        rep_value="b",
        base_value="c",
        detected_at=T0,
    )


def test_cursor_starts_empty_and_never_moves_back(store: SqlStateStore) -> None:
    assert store.get_cursor(P, Side.PARTNER) is None
    store.commit_page(P, PageCommit(cursor_side=Side.PARTNER, cursor=T0))
    store.commit_page(P, PageCommit(cursor_side=Side.PARTNER, cursor=T0 - timedelta(hours=1)))
    assert store.get_cursor(P, Side.PARTNER) == T0
    later = T0 + timedelta(microseconds=1)
    store.commit_page(P, PageCommit(cursor_side=Side.PARTNER, cursor=later))
    assert store.get_cursor(P, Side.PARTNER) == later
    assert store.get_cursor(P, Side.REP) is None
    assert store.get_cursor("other", Side.PARTNER) is None
    cursor = store.get_cursor(P, Side.PARTNER)
    assert cursor is not None
    assert cursor.utcoffset() == timedelta(0)


def test_commit_page_is_all_or_nothing(store: SqlStateStore) -> None:
    store.commit_page(P, PageCommit(links=[LinkState("1", "r1")], cursor_side=Side.REP, cursor=T0))
    store.add_pending(P, Side.PARTNER, ["9"], T0)
    doomed = PageCommit(
        links=[LinkState("2", "r2"), LinkState("3", "r1")],  # r1 is linked to "1" already
        changes=[change("2", "amount", 1)],
        conflicts=[conflict("2", "stage")],
        dead_letters=[DeadLetter(Side.PARTNER, "7", "bad amount")],
        pending_done=[(Side.PARTNER, "9")],
        cursor_side=Side.REP,
        cursor=T0 + timedelta(hours=1),
    )
    with pytest.raises(IntegrityError):
        store.commit_page(P, doomed)
    assert store.get_cursor(P, Side.REP) == T0
    assert store.links_by_ids(P, Side.PARTNER, ["1", "2", "3"]).keys() == {"1"}
    assert store.changes_for(P, "2") == []
    assert store.open_conflicts(P) == []
    assert store.dead_letters(P) == []
    assert store.pending(P, Side.PARTNER, ["9"]) == {"9"}


def test_link_upsert_and_lookup_by_either_side(store: SqlStateStore) -> None:
    store.commit_page(P, PageCommit(links=[LinkState("1", "r1"), LinkState("2", "r2")]))
    updated = LinkState(
        "1",
        "r1",
        base_json='{"amount": "5"}',
        base_at=T0,
        partner_written_at=T0,
        rep_written_at=T0 + timedelta(seconds=1),
        partner_seen="fp-partner",
        rep_seen="fp-rep",
    )
    store.commit_page(P, PageCommit(links=[updated, LinkState("2", "r2", status=LinkStatus.GONE)]))
    assert store.links_by_ids(P, Side.PARTNER, ["1", "x"]) == {"1": updated}
    by_rep = store.links_by_ids(P, Side.REP, ["r1", "r2"])
    assert by_rep["r1"] == updated
    assert by_rep["r2"].status == "gone"  # tombstones are returned too
    assert store.find_link(P, "1") == updated
    assert store.find_link(P, "r1") == updated
    assert store.find_link(P, "nope") is None
    assert store.find_link("other-pair", "1") is None
    assert store.count_links(P) == 1  # active only


def test_many_ids_are_looked_up_in_chunks(store: SqlStateStore) -> None:
    ids = [str(i) for i in range(1200)]
    store.commit_page(P, PageCommit(links=[LinkState(i, f"r{i}") for i in ids]))
    assert len(store.links_by_ids(P, Side.REP, [f"r{i}" for i in ids])) == 1200
    assert store.count_links(P) == 1200


def test_rep_id_of_a_link_changes_only_from_pending(store: SqlStateStore) -> None:
    store.commit_page(P, PageCommit(links=[LinkState("1", "tmp-1", status=LinkStatus.PENDING)]))
    store.commit_page(P, PageCommit(links=[LinkState("1", "r1")]))
    assert store.find_link(P, "r1") == LinkState("1", "r1")
    with pytest.raises(LinkRepointed):
        store.commit_page(
            P, PageCommit(links=[LinkState("1", "r9")], cursor=T0, cursor_side=Side.REP)
        )
    assert store.find_link(P, "1") == LinkState("1", "r1")
    assert store.get_cursor(P, Side.REP) is None


def test_conflict_open_replace_close_and_resolve(store: SqlStateStore, clock: FakeClock) -> None:
    store.commit_page(P, PageCommit(conflicts=[conflict("1", "amount"), conflict("2", "amount")]))
    first = store.open_conflicts(P)
    store.commit_page(P, PageCommit(conflicts=[conflict("1", "amount", partner_value="z")]))
    replaced = [c for c in store.open_conflicts(P) if c.partner_id == "1"]
    assert len(replaced) == 1
    assert replaced[0].partner_value == "z"
    assert replaced[0].id == first[0].id

    clock.advance(60)
    store.commit_page(P, PageCommit(closed_conflicts=[("1", "amount")]))
    assert [c.partner_id for c in store.open_conflicts(P)] == ["2"]

    store.commit_page(P, PageCommit(conflicts=[conflict("1", "amount")]))
    reopened = next(c for c in store.open_conflicts(P) if c.partner_id == "1")
    assert reopened.id != first[0].id

    open_two = next(c for c in store.open_conflicts() if c.partner_id == "2")
    assert open_two.id is not None
    done = store.resolve_conflict(open_two.id, "rep", T0 + timedelta(hours=2))
    assert done is not None
    assert (done.status, done.resolution, done.resolved_at) == (
        "resolved",
        "rep",
        T0 + timedelta(hours=2),
    )
    assert store.resolve_conflict(open_two.id, "partner", T0) is None
    assert [c.partner_id for c in store.open_conflicts(P)] == ["1"]
    assert store.open_conflicts("other-pair") == []


def test_dead_letter_added_then_incremented(store: SqlStateStore) -> None:
    store.commit_page(
        P,
        PageCommit(dead_letters=[DeadLetter(Side.REP, "r1", "timeout", first_at=T0, last_at=T0)]),
    )
    later = T0 + timedelta(minutes=5)
    retry_at = T0 + timedelta(minutes=10)
    again = DeadLetter(Side.REP, "r1", "still bad", last_at=later, next_attempt_at=retry_at)
    store.commit_page(P, PageCommit(dead_letters=[again]))
    [(pair, letter)] = store.dead_letters(P)
    assert pair == P
    assert (letter.attempts, letter.reason, letter.first_at, letter.last_at) == (
        2,
        "still bad",
        T0,
        later,
    )
    assert letter.next_attempt_at == retry_at
    # Same record id on the other side is another letter.
    store.commit_page(P, PageCommit(dead_letters=[DeadLetter(Side.PARTNER, "r1", "x")]))
    assert len(store.dead_letters(P)) == 2


def test_dead_letters_due_retry_now_and_resolve(store: SqlStateStore) -> None:
    letters = [
        DeadLetter(Side.REP, "a", "x", next_attempt_at=T0 + timedelta(minutes=1)),
        DeadLetter(Side.REP, "b", "x", next_attempt_at=T0 + timedelta(hours=1)),
        DeadLetter(Side.PARTNER, "c", "x", next_attempt_at=T0 + timedelta(hours=2)),
        DeadLetter(Side.PARTNER, "parked", "x", next_attempt_at=None),
    ]
    store.commit_page(P, PageCommit(dead_letters=letters))
    store.commit_page("other", PageCommit(dead_letters=letters[:1]))
    now = T0 + timedelta(minutes=2)
    assert [d.record_id for d in store.due_dead_letters(P, now)] == ["a"]
    assert len(store.due_dead_letters(P, T0 + timedelta(days=365))) == 3  # not "parked"
    b_id = next(d.id for _, d in store.dead_letters(P) if d.record_id == "b")
    assert b_id is not None
    assert store.retry_dead_letters_now(P, [b_id], now) == 1
    assert [d.record_id for d in store.due_dead_letters(P, now)] == ["a", "b"]
    assert store.due_dead_letters(P, now, limit=1)[0].record_id == "a"
    assert store.retry_dead_letters_now(P, None, now) == 4  # the parked one too
    assert len(store.due_dead_letters(P, now)) == 4
    assert len(store.due_dead_letters("other", T0)) == 0

    store.commit_page(P, PageCommit(resolved_dead_letters=[(Side.REP, "a")]))
    assert {d.record_id for _, d in store.dead_letters(P)} == {"b", "c", "parked"}
    assert [d.record_id for _, d in store.dead_letters(P, status="resolved")] == ["a"]
    assert {p for p, _ in store.dead_letters()} == {P, "other"}
    # A record failing again after being resolved starts a new letter.
    store.commit_page(P, PageCommit(dead_letters=[DeadLetter(Side.REP, "a", "again")]))
    fresh = next(d for _, d in store.dead_letters(P) if d.record_id == "a")
    assert (fresh.attempts, fresh.reason) == (1, "again")
    assert store.retry_dead_letters_now(None, None, now) == 5


def test_pending_creations(store: SqlStateStore) -> None:
    assert store.pending(P, Side.PARTNER, ["1"]) == set()
    store.add_pending(P, Side.PARTNER, ["1", "2", "2"], T0)
    store.add_pending(P, Side.PARTNER, ["2", "3"], T0 + timedelta(minutes=1))
    store.add_pending(P, Side.PARTNER, [], T0)
    assert store.pending(P, Side.PARTNER, ["1", "2", "3", "4"]) == {"1", "2", "3"}
    assert store.pending(P, Side.REP, ["1"]) == set()
    store.commit_page(P, PageCommit(pending_done=[(Side.PARTNER, "1"), (Side.PARTNER, "3")]))
    assert store.pending(P, Side.PARTNER, ["1", "2", "3"]) == {"2"}


def test_change_log_newest_first(store: SqlStateStore) -> None:
    store.commit_page(P, PageCommit(changes=[change("1", "amount", 1), change("1", "stage", 3)]))
    store.commit_page(P, PageCommit(changes=[change("1", "name", 2, new="n"), change("2", "x", 9)]))
    assert [c.field for c in store.changes_for(P, "1")] == ["stage", "name", "amount"]
    assert [c.field for c in store.changes_for(P, "1", limit=2)] == ["stage", "name"]
    assert store.changes_for(P, "1")[1] == change("1", "name", 2, new="n")
    assert store.changes_for("other", "1") == []
