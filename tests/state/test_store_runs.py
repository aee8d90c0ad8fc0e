"""The run log and ``status`` (contract suite, both backends), and one store shared by threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from sync_worker.kernel.model import Side
from sync_worker.state import (
    ConflictEntry,
    DeadLetter,
    LinkState,
    PageCommit,
    PairStatus,
    RunRecord,
    SqlStateStore,
)
from sync_worker.state.base import LinkStatus
from tests.state.conftest import T0

P = "acme"


def run_with(store: SqlStateStore, n: int, outcome: str | None, pair: str = P) -> RunRecord:
    started = T0 + timedelta(minutes=n)
    store.start_run(RunRecord(run_id=f"{pair}-{n}", pair=pair, mode="sync", started_at=started))
    if outcome is not None:
        store.finish_run(f"{pair}-{n}", started + timedelta(seconds=30), outcome, {"n": n}, None)
    return RunRecord(
        run_id=f"{pair}-{n}",
        pair=pair,
        mode="sync",
        started_at=started,
        ended_at=None if outcome is None else started + timedelta(seconds=30),
        outcome=outcome,
        counts={"n": n} if outcome else {},
    )


def test_finish_run_records_outcome_counts_and_error(store: SqlStateStore) -> None:
    store.start_run(RunRecord(run_id="r1", pair=P, mode="backfill", started_at=T0))
    [status] = store.status([P])
    assert status.last_run == RunRecord(run_id="r1", pair=P, mode="backfill", started_at=T0)
    end = T0 + timedelta(minutes=1)
    store.finish_run("r1", end, "failed", {"pulled": 3, "pushed": 0}, "AuthError: 401")
    [status] = store.status([P])
    assert status.last_run == RunRecord(
        run_id="r1",
        pair=P,
        mode="backfill",
        started_at=T0,
        ended_at=end,
        outcome="failed",
        counts={"pulled": 3, "pushed": 0},
        error="AuthError: 401",
    )
    with pytest.raises(KeyError):
        store.finish_run("never-started", end, "ok", {}, None)


def test_runs_lists_a_pairs_latest_runs_newest_first(store: SqlStateStore) -> None:
    made = [run_with(store, n, "ok" if n % 2 else "failed") for n in range(5)]
    run_with(store, 9, "ok", pair="other")
    running = run_with(store, 6, None)

    assert store.runs(P) == [running, *reversed(made)]
    assert store.runs(P, limit=2) == [running, made[4]]
    assert store.runs("nobody") == []


def test_status_of_an_unknown_pair_is_empty(store: SqlStateStore) -> None:
    assert store.status(["nobody"]) == [PairStatus("nobody", None, None, None, 0, 0, 0, 0)]


def test_status_counts_and_cursors(store: SqlStateStore) -> None:
    page = PageCommit(
        links=[
            LinkState("1", "r1"),
            LinkState("2", "r2"),
            LinkState("3", "r3", status=LinkStatus.GONE),
        ],
        conflicts=[ConflictEntry("1", "r1", "amount", "1", "2", "0", T0)],
        dead_letters=[DeadLetter(Side.REP, "r9", "x"), DeadLetter(Side.REP, "r8", "x")],
        cursor_side=Side.PARTNER,
        cursor=T0,
    )
    store.commit_page(P, page)
    store.commit_page(P, PageCommit(cursor_side=Side.REP, cursor=T0 + timedelta(seconds=1)))
    store.commit_page(P, PageCommit(resolved_dead_letters=[(Side.REP, "r8")]))
    last = run_with(store, 1, "ok")
    store.commit_page("b", PageCommit(links=[LinkState("1", "r1")]))
    a, b = store.status([P, "b"])
    assert a == PairStatus(P, last, T0, T0 + timedelta(seconds=1), 2, 1, 1, 0)
    assert (b.pair, b.links, b.last_run) == ("b", 1, None)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["ok", "failed", "failed"], 2),
        (["failed", "failed", "ok"], 0),
        (["failed", "partial", "failed"], 1),
        (["failed", "failed", "failed", None], 3),  # a run still going neither fails nor heals
        (["ok"], 0),
    ],
)
def test_consecutive_failures(
    store: SqlStateStore, outcomes: list[str | None], expected: int
) -> None:
    for n, outcome in enumerate(outcomes):
        run_with(store, n, outcome)
    run_with(store, 0, "failed", pair="neighbour")
    [status] = store.status([P])
    assert status.consecutive_failures == expected
    assert status.last_run is not None
    assert status.last_run.run_id == f"{P}-{len(outcomes) - 1}"


def test_one_store_shared_by_threads_loses_nothing(store: SqlStateStore) -> None:
    def work(thread: int) -> None:
        for i in range(20):
            cursor = T0 + timedelta(seconds=thread * 100 + i)
            letter = DeadLetter(Side.REP, "shared", f"t{thread}")
            store.commit_page(
                P, PageCommit(dead_letters=[letter], cursor_side=Side.REP, cursor=cursor)
            )
            store.commit_page(f"own-{thread}", PageCommit(links=[LinkState(str(i), f"r{i}")]))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    [(_, letter)] = store.dead_letters(P)
    assert letter.attempts == 8 * 20
    assert store.get_cursor(P, Side.REP) == T0 + timedelta(seconds=719)
    assert [s.links for s in store.status([f"own-{t}" for t in range(8)])] == [20] * 8
