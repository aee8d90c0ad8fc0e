"""History retention (contract suite, both backends): old audit rows go, sync state stays."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy import Connection, func, inspect, select, text

from sync_worker.kernel.model import Side
from sync_worker.state import (
    DeadLetter,
    LinkState,
    PageCommit,
    PruneCounts,
    RunRecord,
    SqlStateStore,
)
from sync_worker.state.migrations import SCHEMA_VERSION, read_version
from sync_worker.state.retention import prune
from sync_worker.state.schema import changes
from tests.state.conftest import T0
from tests.state.test_store_contract import change, conflict

P = "acme"
DAY = timedelta(days=1)
CUTOFF = T0 + 30 * DAY


def run(store: SqlStateStore, run_id: str, day: int, outcome: str | None, pair: str = P) -> None:
    started = T0 + day * DAY
    store.start_run(RunRecord(run_id=run_id, pair=pair, mode="daemon", started_at=started))
    if outcome is not None:
        store.finish_run(run_id, started + timedelta(seconds=5), outcome, {}, None)


def run_ids(store: SqlStateStore) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(text("SELECT run_id FROM sw_runs")).scalars())


def change_count(store: SqlStateStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(changes)).scalar_one())


def test_old_history_goes_and_sync_state_stays(store: SqlStateStore) -> None:
    link = LinkState("p1", "r1", base_json='{"amount": "10"}', base_at=T0)
    store.commit_page(
        P,
        PageCommit(
            links=[link],
            changes=[change("p1", "amount", 0), change("p1", "closedate", 60 * 24 * 31)],
            conflicts=[conflict("p1", "amount"), conflict("p2", "dealname")],
            dead_letters=[
                DeadLetter(Side.REP, "old-fixed", "bad option", last_at=T0),
                DeadLetter(Side.REP, "old-open", "bad option", last_at=T0),
                DeadLetter(Side.REP, "new-fixed", "bad option", last_at=CUTOFF + DAY),
            ],
            cursor_side=Side.PARTNER,
            cursor=T0,
        ),
    )
    store.commit_page(P, PageCommit(resolved_dead_letters=[(Side.REP, "old-fixed")]))
    store.commit_page(P, PageCommit(resolved_dead_letters=[(Side.REP, "new-fixed")]))
    [amount, _] = sorted(store.open_conflicts(P), key=lambda c: c.field)
    assert amount.id is not None
    store.resolve_conflict(amount.id, "rep", T0 + DAY)  # resolved long ago: goes

    counts = store.prune_history(CUTOFF)

    assert counts == PruneCounts(changes=1, runs=0, conflicts=1, dead_letters=1)
    assert [c.field for c in store.changes_for(P, "p1")] == ["closedate"]
    assert [c.field for c in store.open_conflicts(P)] == ["dealname"]  # open: kept
    letters = {
        (letter.record_id, status)
        for status in ("open", "resolved")
        for _, letter in store.dead_letters(P, status=status)
    }
    assert letters == {("old-open", "open"), ("new-fixed", "resolved")}
    assert store.find_link(P, "p1") == link  # with its base, however old
    assert store.find_link(P, "r1") == link
    assert store.get_cursor(P, Side.PARTNER) == T0


def test_each_pairs_newest_run_and_newest_good_run_are_kept(store: SqlStateStore) -> None:
    run(store, "a-ok-old", 0, "ok")
    run(store, "a-ok", 1, "ok")
    run(store, "a-fail-1", 2, "failed")
    run(store, "a-fail-2", 3, "failed")
    run(store, "a-new", 40, "ok")
    run(store, "b-ok", 1, "ok", pair="beta")
    run(store, "b-fail", 2, "failed", pair="beta")
    run(store, "c-crashed", 5, None, pair="gamma")  # never finished, and its only run
    [beta_before] = store.status(["beta"])

    counts = store.prune_history(CUTOFF)

    assert counts.runs == 4
    assert run_ids(store) == {"a-new", "b-ok", "b-fail", "c-crashed"}
    [beta] = store.status(["beta"])
    assert beta.last_run == beta_before.last_run
    assert beta.consecutive_failures == beta_before.consecutive_failures == 1


def test_pruning_again_finds_nothing_and_recent_history_is_untouched(
    store: SqlStateStore,
) -> None:
    store.commit_page(P, PageCommit(changes=[change("p1", "amount", m) for m in range(3)]))
    assert store.prune_history(T0).total == 0
    assert store.prune_history(T0 + timedelta(minutes=2)) == PruneCounts(changes=2)
    assert store.prune_history(T0 + timedelta(minutes=2)).total == 0
    assert change_count(store) == 1


def test_large_histories_are_deleted_a_chunk_per_transaction(store: SqlStateStore) -> None:
    entries = [change(f"p{i}", "amount", 0) for i in range(23)]
    store.commit_page(P, PageCommit(changes=[*entries, change("keep", "amount", 60)]))
    transactions = 0

    def begin() -> AbstractContextManager[Connection]:
        nonlocal transactions
        transactions += 1
        return store.engine.begin()

    counts = prune(begin, T0 + timedelta(minutes=1), chunk_rows=5)

    assert counts.changes == 23
    assert transactions >= 5  # 23 rows at 5 a chunk, and other tables after
    assert change_count(store) == 1


def test_a_version_1_database_is_upgraded_with_its_history_intact(
    store: SqlStateStore, open_more: Callable[[], SqlStateStore]
) -> None:
    store.commit_page(P, PageCommit(changes=[change("p1", "amount", 0)]))
    with store.engine.begin() as conn:  # what the previous release created
        conn.execute(text("DROP INDEX sw_changes_by_time"))
        conn.execute(text("UPDATE sw_schema_version SET version = 1"))
    store.close()

    upgraded = open_more()

    with upgraded.engine.connect() as conn:
        assert read_version(conn) == SCHEMA_VERSION  # every later step too
        indexes = {index["name"] for index in inspect(conn).get_indexes("sw_changes")}
    assert "sw_changes_by_time" in indexes
    assert [c.field for c in upgraded.changes_for(P, "p1")] == ["amount"]
