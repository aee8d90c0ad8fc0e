"""The dry run's store: a whole StateStore that takes the run's commits in memory and never
writes the real store underneath (run on SQLite and PostgreSQL, like the store contract)."""

from __future__ import annotations

from datetime import timedelta

from sync_worker.kernel.model import Side
from sync_worker.state import ConflictEntry, DeadLetter, LinkState, PageCommit, SqlStateStore
from sync_worker.state.base import ChangeEntry, RunRecord, StateStore
from sync_worker.state.overlay import OverlayStore
from tests.state.conftest import T0

P = "acme"


def overlay_of(store: SqlStateStore) -> OverlayStore:
    overlay = OverlayStore(store)
    port: StateStore = overlay  # the overlay is the whole port: mypy checks every method
    assert port is overlay
    return overlay


def test_commits_are_read_back_from_memory_and_never_reach_the_real_store(
    store: SqlStateStore,
) -> None:
    store.commit_page(
        P, PageCommit(links=[LinkState("1", "r1")], cursor_side=Side.PARTNER, cursor=T0)
    )
    overlay = overlay_of(store)
    later = T0 + timedelta(minutes=5)
    overlay.commit_page(
        P,
        PageCommit(
            links=[LinkState("1", "r1", base_json="{}"), LinkState("2", "r2")],
            changes=[ChangeEntry("2", "r2", Side.REP, "amount", None, "5", "x", "y", T0, "run")],
            conflicts=[ConflictEntry("2", "r2", "amount", "1", "2", None, T0)],
            dead_letters=[DeadLetter(Side.REP, "r2", "refused")],
            cursor_side=Side.PARTNER,
            cursor=later,
        ),
    )

    assert overlay.links_by_ids(P, Side.REP, ["r1", "r2"]).keys() == {"r1", "r2"}
    assert overlay.find_link(P, "2") == LinkState("2", "r2")
    assert overlay.count_links(P) == 2
    assert overlay.get_cursor(P, Side.PARTNER) == later
    # The real store still holds only what it held.
    assert store.links_by_ids(P, Side.REP, ["r1", "r2"]) == {"r1": LinkState("1", "r1")}
    assert store.count_links(P) == 1
    assert store.get_cursor(P, Side.PARTNER) == T0
    assert store.open_conflicts(P) == []
    assert store.dead_letters(P) == []
    assert store.changes_for(P, "2") == []
    assert len(overlay.commits) == 1


def test_a_cursor_never_moves_backwards_in_the_overlay_either(store: SqlStateStore) -> None:
    store.commit_page(P, PageCommit(cursor_side=Side.REP, cursor=T0))
    overlay = overlay_of(store)
    overlay.commit_page(P, PageCommit(cursor_side=Side.REP, cursor=T0 - timedelta(hours=1)))
    assert overlay.get_cursor(P, Side.REP) == T0


def test_runs_leases_and_letters_leave_the_real_store_alone(store: SqlStateStore) -> None:
    store.commit_page(
        P, PageCommit(dead_letters=[DeadLetter(Side.REP, "r9", "x", next_attempt_at=T0)])
    )
    assert store.try_lease(P, "daemon", T0, 600)
    overlay = overlay_of(store)
    # A dry run beside a running daemon neither waits for nor takes the pair's lease.
    assert overlay.try_lease(P, "dry-run", T0, 600)
    overlay.release_lease(P, "dry-run")
    assert not store.try_lease(P, "someone-else", T0, 600)
    overlay.start_run(RunRecord("dry", P, "backfill", T0))
    overlay.finish_run("dry", T0, "ok", {"pulled.rep": 1}, None)
    assert store.status([P])[0].last_run is None
    assert overlay.retry_dead_letters_now(P, None, T0) == 0
    assert [d.record_id for d in overlay.due_dead_letters(P, T0 + timedelta(seconds=1))] == ["r9"]
    overlay.add_pending(P, Side.PARTNER, ["7"], T0)
    assert overlay.pending(P, Side.PARTNER, ["7", "8"]) == {"7"}
    assert store.pending(P, Side.PARTNER, ["7"]) == set()
    overlay.close()
    assert store.count_links(P) == 0  # still open and usable
