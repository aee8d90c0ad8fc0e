"""The rate budget port: one credential's request budget, wherever it is kept.

A CRM counts requests per credential, not per process: every pair and every process using one
token (a daemon, a ``backfill`` next to it, replicas) spends one budget. A connector paces
through a :class:`RateBudget`; :class:`BudgetStore` hands out one per credential. Two
implementations: :class:`MemoryBudget` (below: one process's own pacing) and the state store's
database (``sync_worker.state.budget.SqlBudgets``), which every process using the state URL
shares. The port lives in the connector layer so that the state layer can implement it
without a connector ever importing the state.

Behaviour every implementation has (``tests/contract/test_budget_contract.py``):

* **Sliding windows of grants.** No ``window.seconds + window.pad`` ever holds more than
  ``window.limit`` grants of one kind; a full window answers how long until its oldest
  counted grant leaves it.
* **Answers move search slots.** :meth:`RateBudget.answered` counts a grant from its answer
  instead (the CRM counts a request on arrival, which may be later than the grant); an answer
  within the window's pad changes nothing, the pad already covers it.
* **Corrections are shared.** A lower (or restored) general limit from the CRM's headers, a
  block while the CRM says nothing remains, and a daily limit reached apply to every user of
  the credential at its next grant; the daily figure the CRM reported reaches the others'
  snapshots with the reporting user's next grant at the latest.
* **A spent daily budget refuses** until its reset, without granting anything.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sync_worker.kernel.clock import Clock

__all__ = [
    "BudgetRules",
    "BudgetSnapshot",
    "BudgetStore",
    "Correction",
    "Decision",
    "MemoryBudget",
    "RateBudget",
    "RequestKind",
    "SlidingWindow",
    "Ticket",
    "Window",
]

RequestKind = Literal["general", "search"]


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``limit`` grants in any ``seconds + pad`` (the CRM's window, plus the slack
    that absorbs clock resolution, network jitter and small clock differences)."""

    limit: int
    seconds: float
    pad: float = 0.0

    @property
    def span(self) -> float:
        return self.seconds + self.pad


@dataclass(frozen=True, slots=True)
class BudgetRules:
    """A credential's two windows: general requests, and searches (counted apart)."""

    general: Window
    search: Window

    def window(self, kind: RequestKind) -> Window:
        return self.search if kind == "search" else self.general


@dataclass(frozen=True, slots=True)
class Ticket:
    """A granted slot: its kind, when it was granted (in the budget's own time base) and the
    budget's id for it. Hand it back to :meth:`RateBudget.answered`."""

    kind: RequestKind
    at: float
    id: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """:meth:`RateBudget.try_grant`'s answer: a ``ticket`` (granted), or a ``wait`` in seconds
    before asking again, or ``daily_resets_at`` (the daily budget is spent until then)."""

    ticket: Ticket | None = None
    wait: float = 0.0
    daily_resets_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Correction:
    """What a response's rate-limit headers tell every user of the credential; None = the
    response did not say."""

    general_limit: int | None = None
    """The general window's limit now (from the CRM's maximum, minus the client's margin)."""
    blocked_for: float | None = None
    """The CRM said nothing remains: no request for this many seconds."""
    daily_remaining: int | None = None
    """Requests left today, as the CRM reported them."""

    def says_nothing(self) -> bool:
        return (
            self.general_limit is None
            and self.blocked_for is None
            and (self.daily_remaining is None)
        )


@dataclass(frozen=True, slots=True)
class BudgetSnapshot:
    """The budget as every user of the credential sees it now (metrics, ``status``)."""

    credential: str
    general_limit: int
    general_used: int
    search_limit: int
    search_used: int
    blocked_for: float
    """Seconds until requests may go again after the CRM said nothing remains (0: not blocked)."""
    daily_remaining: int | None
    daily_resets_at: datetime | None
    """Set while the daily budget is spent."""
    shared: bool
    """True when processes share it (kept in the state store), False for one process's own."""

    @property
    def general_remaining(self) -> int:
        return max(0, self.general_limit - self.general_used)

    @property
    def search_remaining(self) -> int:
        return max(0, self.search_limit - self.search_used)


class RateBudget(Protocol):
    """One credential's budget. Thread-safe; a shared one is also safe across processes."""

    def try_grant(self, kind: RequestKind) -> Decision:
        """Grant a slot of ``kind`` now if the budget allows it; never waits."""
        ...

    def answered(self, ticket: Ticket) -> None:
        """The request of ``ticket`` was answered: its slot counts from now (see the module)."""
        ...

    def correct(self, correction: Correction) -> None:
        """Apply what the CRM's headers said (see :class:`Correction`)."""
        ...

    def trip_daily(self, resets_at: datetime) -> None:
        """The daily budget is spent until ``resets_at``: refuse every grant until then."""
        ...

    def snapshot(self) -> BudgetSnapshot: ...


class BudgetStore(Protocol):
    """Where budgets are kept: one :class:`RateBudget` per credential name (never a token:
    the name is the CRM's base URL and a fingerprint of the token)."""

    def budget(self, credential: str, rules: BudgetRules, clock: Clock) -> RateBudget: ...


class SlidingWindow:
    """At most ``limit`` grants in any ``window_s`` seconds. Not locked: the owner locks."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._grants: list[float] = []  # sorted

    def try_grant(self, now: float) -> float:
        """Record a grant at ``now`` and return 0, or return how long to wait first."""
        self._expire(now)
        if len(self._grants) < self.limit:
            bisect.insort(self._grants, now)
            return 0.0
        return self._grants[-self.limit] + self.window_s - now

    def answered(self, granted: float, now: float) -> None:
        """Count the grant made at ``granted`` from ``now``, when its request was answered:
        the server counts a request when it arrives, which may be later than we sent it, so a
        window that restarts from the answer can never let the server see one too many."""
        index = bisect.bisect_left(self._grants, granted)
        if index < len(self._grants) and self._grants[index] == granted:
            del self._grants[index]
            bisect.insort(self._grants, max(granted, now))

    def used(self, now: float) -> int:
        """Grants in the window ending ``now``."""
        self._expire(now)
        return len(self._grants)

    def _expire(self, now: float) -> None:
        del self._grants[: bisect.bisect_right(self._grants, now - self.window_s)]


class MemoryBudget:
    """A credential's budget kept in this process: every pair of the process shares it, no
    other process sees it. Windows run on the clock's monotonic reading (immune to wall-clock
    steps); the daily reset is a wall time."""

    def __init__(self, credential: str, rules: BudgetRules, clock: Clock) -> None:
        self._credential = credential
        self._rules = rules
        self._clock = clock
        self._windows = {
            "general": SlidingWindow(rules.general.limit, rules.general.span),
            "search": SlidingWindow(rules.search.limit, rules.search.span),
        }
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        self._daily_resets_at: datetime | None = None
        self._daily_remaining: int | None = None

    def try_grant(self, kind: RequestKind) -> Decision:
        with self._lock:
            resets_at = self._daily_spent_until()
            if resets_at is not None:
                return Decision(daily_resets_at=resets_at)
            now = self._clock.monotonic()
            wait = self._blocked_until - now
            if wait <= 0:
                wait = self._windows[kind].try_grant(now)
            return Decision(ticket=Ticket(kind, now)) if wait <= 0 else Decision(wait=wait)

    def answered(self, ticket: Ticket) -> None:
        now = self._clock.monotonic()
        if now - ticket.at <= self._rules.window(ticket.kind).pad:
            return  # the window's pad already covers an answer this quick
        with self._lock:
            self._windows[ticket.kind].answered(ticket.at, now)

    def correct(self, correction: Correction) -> None:
        with self._lock:
            if correction.general_limit is not None:
                self._windows["general"].limit = correction.general_limit
            if correction.blocked_for is not None:
                until = self._clock.monotonic() + correction.blocked_for
                self._blocked_until = max(self._blocked_until, until)
            if correction.daily_remaining is not None:
                self._daily_remaining = correction.daily_remaining

    def trip_daily(self, resets_at: datetime) -> None:
        with self._lock:
            self._daily_resets_at = resets_at
            self._daily_remaining = 0

    def snapshot(self) -> BudgetSnapshot:
        with self._lock:
            now = self._clock.monotonic()
            general, search = self._windows["general"], self._windows["search"]
            return BudgetSnapshot(
                credential=self._credential,
                general_limit=general.limit,
                general_used=general.used(now),
                search_limit=search.limit,
                search_used=search.used(now),
                blocked_for=max(0.0, self._blocked_until - now),
                daily_remaining=self._daily_remaining,
                daily_resets_at=self._daily_spent_until(),
                shared=False,
            )

    def _daily_spent_until(self) -> datetime | None:
        if self._daily_resets_at is not None and self._clock.now() >= self._daily_resets_at:
            self._daily_resets_at = None
        return self._daily_resets_at
