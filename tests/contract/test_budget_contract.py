"""The rate budget port's contract, run on every implementation: the in-process budget, and the
state store's on a real SQLite file and (with ``SYNC_WORKER_TEST_PG_URL``) real PostgreSQL.

Time is a :class:`FakeClock`: a wait the budget asks for is slept on it, so windows pass without
real waiting. For the shared budgets, a "process" is a store opened anew on the same database
(its own engine and connections), as another process would open it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync_worker.connectors.budget import (
    BudgetRules,
    BudgetStore,
    Correction,
    MemoryBudget,
    RateBudget,
    RequestKind,
    Ticket,
    Window,
)
from sync_worker.kernel.clock import Clock, FakeClock
from sync_worker.state import SqlStateStore, open_store
from sync_worker.state.budget import SqlBudgets
from tests.state.conftest import PG_ENV, PG_SKIP, fresh_pg_schema

T0 = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
RULES = BudgetRules(general=Window(95, 10.0, 0.1), search=Window(5, 1.0, 0.02))
CREDENTIAL = "https://api.hubapi.test#0123456789ab"

OpenProcess = Callable[[], BudgetStore]
"""Opens the budgets as one more process would see them."""


class _OneProcess:
    """The in-process store: one budget per credential, as a LimiterRegistry holds them."""

    def __init__(self) -> None:
        self._budgets: dict[str, MemoryBudget] = {}

    def budget(self, credential: str, rules: BudgetRules, clock: Clock) -> MemoryBudget:
        return self._budgets.setdefault(credential, MemoryBudget(credential, rules, clock))


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def kind_of_store(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(PG_SKIP)
    return name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL: a SQLite file, or a fresh PostgreSQL schema (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    with fresh_pg_schema(os.environ[PG_ENV]) as url:
        yield url


@pytest.fixture
def open_process(kind_of_store: str, tmp_path: Path, clock: FakeClock) -> Iterator[OpenProcess]:
    if kind_of_store == "memory":
        one = _OneProcess()
        yield lambda: one
        return
    stores: list[SqlStateStore] = []
    with database(kind_of_store, tmp_path) as url:

        def _open() -> BudgetStore:
            stores.append(open_store(url, clock=clock))
            return SqlBudgets(stores[-1].engine)

        yield _open
        for store in stores:
            store.close()


SHARED = pytest.mark.parametrize(
    "kind_of_store",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)],
    indirect=True,
)
"""For the budgets processes share (the in-process one is one process's own)."""


def budget_of(open_process: OpenProcess, clock: FakeClock) -> RateBudget:
    return open_process().budget(CREDENTIAL, RULES, clock)


def grant(budget: RateBudget, kind: RequestKind, clock: FakeClock) -> Ticket:
    """Wait (on the fake clock) for a grant, as the limiter does."""
    while True:
        decision = budget.try_grant(kind)
        if decision.ticket is not None:
            return decision.ticket
        assert decision.daily_resets_at is None
        assert decision.wait > 0
        clock.sleep(decision.wait)


def busiest_window(times: Sequence[float], width: float) -> int:
    """The most grants found in any half-open window ``[t, t + width)``."""
    ordered = sorted(times)
    best, low = 0, 0
    for high, moment in enumerate(ordered):
        while ordered[low] <= moment - width:
            low += 1
        best = max(best, high - low + 1)
    return best


def test_no_window_ever_holds_more_than_its_limit(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budget = budget_of(open_process, clock)

    general = [grant(budget, "general", clock).at for _ in range(200)]
    searches = [grant(budget, "search", clock).at for _ in range(12)]

    assert busiest_window(general, 10.0) <= 95
    assert busiest_window(searches, 1.0) <= 5
    assert general[-1] - general[0] < 25  # it waited for windows to pass, not much longer


def test_a_full_window_says_how_long_until_its_oldest_grant_leaves(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budget = budget_of(open_process, clock)
    for _ in range(5):
        assert budget.try_grant("search").ticket is not None
    clock.advance(0.5)

    decision = budget.try_grant("search")

    assert decision.ticket is None
    assert decision.wait == pytest.approx(0.52)
    assert budget.try_grant("general").ticket is not None  # the kinds are counted apart


def test_a_slow_answer_holds_its_search_slot_until_it_came(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budget = budget_of(open_process, clock)
    tickets = [grant(budget, "search", clock) for _ in range(5)]
    clock.advance(0.9)
    budget.answered(tickets[0])  # arrived 0.9 s after it was granted
    clock.advance(0.2)  # the other four have left the window

    assert [grant(budget, "search", clock) for _ in range(4)]
    decision = budget.try_grant("search")

    assert decision.ticket is None
    assert decision.wait == pytest.approx(0.9 + 1.02 - 1.1)


def test_an_answer_within_the_pad_moves_nothing(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budget = budget_of(open_process, clock)
    tickets = [grant(budget, "search", clock) for _ in range(5)]
    clock.advance(0.01)
    for ticket in tickets:
        budget.answered(ticket)

    decision = budget.try_grant("search")

    assert decision.wait == pytest.approx(1.01)  # from the grants, not from the answers


def test_a_lower_limit_from_the_headers_tightens_the_window_and_can_be_restored(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budget = budget_of(open_process, clock)
    budget.correct(Correction(general_limit=45))

    tight = [grant(budget, "general", clock).at for _ in range(100)]
    assert busiest_window(tight, 10.0) <= 45
    assert budget.snapshot().general_limit == 45

    budget.correct(Correction(general_limit=95))
    clock.advance(11)
    assert all(budget.try_grant("general").ticket for _ in range(95))
    assert budget.snapshot().general_remaining == 0


def test_nothing_remaining_blocks_every_kind_for_the_interval(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budget = budget_of(open_process, clock)
    budget.correct(Correction(blocked_for=10.0))

    assert budget.try_grant("general").wait == pytest.approx(10.0)
    assert budget.snapshot().blocked_for == pytest.approx(10.0)
    budget.correct(Correction(blocked_for=2.0))  # a shorter block never shortens a longer one
    clock.advance(10)
    assert budget.try_grant("general").ticket is not None


def test_a_spent_daily_budget_refuses_until_its_reset(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budget = budget_of(open_process, clock)
    resets_at = T0 + timedelta(hours=1)
    budget.trip_daily(resets_at)

    assert budget.try_grant("general").daily_resets_at == resets_at
    assert budget.try_grant("search").daily_resets_at == resets_at
    assert budget.snapshot().daily_remaining == 0
    assert budget.snapshot().daily_resets_at == resets_at

    clock.advance(3600)
    assert budget.try_grant("general").ticket is not None
    assert budget.snapshot().daily_resets_at is None


def test_the_snapshot_counts_the_windows_and_the_daily_figure(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budget = budget_of(open_process, clock)
    for _ in range(7):
        grant(budget, "general", clock)
    grant(budget, "search", clock)
    budget.correct(Correction(daily_remaining=1234))
    grant(budget, "general", clock)  # a shared budget stores the daily figure with a grant

    seen = budget.snapshot()

    assert (seen.general_used, seen.general_remaining) == (8, 87)
    assert (seen.search_used, seen.search_remaining) == (1, 4)
    assert seen.daily_remaining == 1234
    clock.advance(10.2)
    assert budget.snapshot().general_used == 0


# -- shared by processes ------------------------------------------------------------------------


@SHARED
def test_processes_fill_one_window_together(open_process: OpenProcess, clock: FakeClock) -> None:
    first, second = budget_of(open_process, clock), budget_of(open_process, clock)
    for _ in range(60):
        assert first.try_grant("general").ticket is not None
    for _ in range(35):
        assert second.try_grant("general").ticket is not None

    assert first.try_grant("general").wait > 0
    assert second.try_grant("general").wait > 0
    assert second.snapshot().general_used == 95
    assert second.snapshot().shared


@SHARED
def test_one_process_answer_moves_the_slot_for_the_other(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    first, second = budget_of(open_process, clock), budget_of(open_process, clock)
    slow = grant(first, "search", clock)
    for _ in range(4):
        grant(second, "search", clock)
    clock.advance(0.9)
    first.answered(slow)
    clock.advance(0.2)

    for _ in range(4):
        grant(second, "search", clock)

    assert second.try_grant("search").wait == pytest.approx(0.9 + 1.02 - 1.1)


@SHARED
def test_corrections_and_the_daily_trip_reach_every_process(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    seer, other = budget_of(open_process, clock), budget_of(open_process, clock)
    seer.correct(Correction(general_limit=20, daily_remaining=77))
    grant(seer, "general", clock)
    assert other.snapshot().general_limit == 20
    assert other.snapshot().daily_remaining == 77

    seer.correct(Correction(blocked_for=5.0))
    assert other.try_grant("general").wait == pytest.approx(5.0)

    resets_at = T0 + timedelta(hours=2)
    seer.trip_daily(resets_at)
    assert other.try_grant("search").daily_resets_at == resets_at
    assert other.snapshot().daily_remaining == 0


@SHARED
def test_threads_of_two_processes_stay_within_the_limits(
    open_process: OpenProcess, clock: FakeClock
) -> None:
    budgets = [budget_of(open_process, clock), budget_of(open_process, clock)]
    grants: dict[RequestKind, list[float]] = {"general": [], "search": []}
    lock = threading.Lock()

    def work(budget: RateBudget, kind: RequestKind) -> None:
        for _ in range(40):
            ticket = grant(budget, kind, clock)
            with lock:
                grants[kind].append(ticket.at)

    threads = [
        threading.Thread(target=work, args=(budget, kind))
        for budget in budgets
        for kind in ("general", "general", "general", "search")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(grants["general"]) == 240
    assert len(grants["search"]) == 80
    assert busiest_window(grants["general"], 10.0) <= 95
    assert busiest_window(grants["search"], 1.0) <= 5
