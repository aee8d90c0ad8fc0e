"""Rate budgets kept in the state store's database, shared by every process using the store.

:class:`SqlBudgets` implements the connector layer's
:class:`~sync_worker.connectors.budget.BudgetStore` port: one budget row per credential
(``sw_rate_budgets``: the corrections HubSpot's headers made, the daily limit) and one row per
grant of the current windows (``sw_rate_grants``). A daemon, a ``backfill`` next to it and
replicas on one PostgreSQL store then pace one credential together; on SQLite, processes on
one host do the same through the file.

**Cost.** A grant is one short write transaction: lock the budget row (``UPDATE ...
RETURNING``, which also stores the daily figure the last response reported), count the
window (only when it is full: drop expired grants, find when it frees), insert the grant:
about 1.3 ms on SQLite and 2.3 ms on PostgreSQL over loopback, next to a HubSpot request's
tens to hundreds. A search answered later than its window's pad moves its grant in a second
one; a header that changes the limit or blocks the credential, and a daily limit reached,
write at once (rare). Threads of one process queue on a lock of their own first, so only
processes meet in the database's lock.

**Time.** Grants are wall times from each process's clock: processes on several machines
need synchronised clocks (NTP); the windows' pads absorb small differences. A grant dated
further ahead than a window (a clock stepped back) is dropped rather than trusted.

**Why not pyrate-limiter.** Its ``SQLiteBucket`` and ``PostgresBucket`` (4.x) keep a fixed
list of rates per bucket in a table of their own, created outside this store's migrations,
through their own connections (a ``psycopg_pool`` pool; ``sqlite3`` with an optional file
lock). They cannot move a grant to its answer (search slots), change a limit from response
headers, block for an interval or hold a daily limit until its reset; and the PostgreSQL
bucket takes ``LOCK TABLE ... NOWAIT`` and refuses a request whenever another process holds
the lock, where pacing needs to queue.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, Connection, Engine, case, func, literal, or_, select

from sync_worker.connectors.budget import (
    BudgetRules,
    BudgetSnapshot,
    Correction,
    Decision,
    RequestKind,
    Ticket,
    Window,
)
from sync_worker.kernel.clock import Clock
from sync_worker.state.connect import READ_ONLY
from sync_worker.state.page import insert_for
from sync_worker.state.schema import UtcMicros, rate_budgets, rate_grants

__all__ = ["SqlBudgets", "SqlRateBudget"]

_SHORTEST_WAIT_S = 0.001


class SqlBudgets:
    """The :class:`~sync_worker.connectors.budget.BudgetStore` of a state store's engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def budget(self, credential: str, rules: BudgetRules, clock: Clock) -> SqlRateBudget:
        """The credential's budget; its row is created on first use by any process."""
        with self._engine.begin() as conn:
            _ensure_row(conn, credential, clock.now())
        return SqlRateBudget(self._engine, credential, rules, clock)


class _Row(NamedTuple):
    general_limit: int | None = None
    blocked_until: datetime | None = None
    daily_resets_at: datetime | None = None
    daily_remaining: int | None = None


_ROW = (
    rate_budgets.c.general_limit,
    rate_budgets.c.blocked_until,
    rate_budgets.c.daily_resets_at,
    rate_budgets.c.daily_remaining,
)


class SqlRateBudget:
    """One credential's shared budget (see the module docstring). Thread-safe."""

    def __init__(self, engine: Engine, credential: str, rules: BudgetRules, clock: Clock) -> None:
        self._engine = engine
        self._credential = credential
        self._rules = rules
        self._clock = clock
        self._lock = threading.Lock()
        self._pending_daily: int | None = None
        self._known_limit = rules.general.limit
        self._since_sweep = 0

    def try_grant(self, kind: RequestKind) -> Decision:
        with self._lock:
            daily, self._pending_daily = self._pending_daily, None
            try:
                with self._engine.begin() as conn:
                    row = self._lock_row(conn, self._clock.now(), daily)
                    # Read the time once the row is ours: a grant dated before a wait for the
                    # lock would leave its window early.
                    decision = self._decide(conn, kind, row, self._clock.now())
            except BaseException:
                self._pending_daily = daily  # not stored: the next grant tries again
                raise
            self._known_limit = self._limit(row)
            return decision

    def answered(self, ticket: Ticket) -> None:
        now = self._clock.now()
        if now.timestamp() - ticket.at <= self._rules.window(ticket.kind).pad:
            return  # the window's pad already covers an answer this quick
        with self._lock, self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # SQLite's writers are serialised already
                # The budget row first, as a grant locks it: no grant reads the window meanwhile.
                conn.execute(
                    select(rate_budgets.c.credential)
                    .where(rate_budgets.c.credential == self._credential)
                    .with_for_update()
                )
            conn.execute(
                rate_grants.update()
                .where(rate_grants.c.id == ticket.id, rate_grants.c.at < now)
                .values(at=now)
            )

    def correct(self, correction: Correction) -> None:
        values: dict[str, object] = {}
        with self._lock:
            if correction.daily_remaining is not None:
                self._pending_daily = correction.daily_remaining  # stored with the next grant
            limit = correction.general_limit
            if limit is not None and limit != self._known_limit:
                values["general_limit"] = limit
                self._known_limit = limit
            if correction.blocked_for is not None:
                now = self._clock.now()
                until = now + timedelta(seconds=correction.blocked_for)
                blocked = rate_budgets.c.blocked_until
                values["blocked_until"] = case(
                    (or_(blocked.is_(None), blocked < until), literal(until, UtcMicros())),
                    else_=blocked,
                )
            if values:
                self._update(values)

    def trip_daily(self, resets_at: datetime) -> None:
        with self._lock:
            self._pending_daily = None
            self._update({"daily_resets_at": resets_at, "daily_remaining": 0})

    def snapshot(self) -> BudgetSnapshot:
        now = self._clock.now()
        with self._engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                found = conn.execute(
                    select(*_ROW).where(rate_budgets.c.credential == self._credential)
                ).first()
                used = {kind: self._used(conn, kind, now) for kind in ("general", "search")}
        row = _Row(*found) if found is not None else _Row()
        with self._lock:
            pending = self._pending_daily
        return BudgetSnapshot(
            credential=self._credential,
            general_limit=self._limit(row),
            general_used=used["general"],
            search_limit=self._rules.search.limit,
            search_used=used["search"],
            blocked_for=_seconds_until(row.blocked_until, now),
            daily_remaining=pending if pending is not None else row.daily_remaining,
            daily_resets_at=(
                row.daily_resets_at if _seconds_until(row.daily_resets_at, now) else None
            ),
            shared=True,
        )

    def _lock_row(self, conn: Connection, now: datetime, daily: int | None) -> _Row:
        """Lock the budget row (PostgreSQL: a row lock; SQLite: the transaction is already the
        file's writer), store ``daily`` if known, clear a daily limit that has reset, read."""
        resets = rate_budgets.c.daily_resets_at
        values: dict[str, object] = {
            "updated_at": now,
            "daily_resets_at": case((resets <= now, None), else_=resets),
        }
        if daily is not None:
            values["daily_remaining"] = daily
        found = conn.execute(
            rate_budgets.update()
            .where(rate_budgets.c.credential == self._credential)
            .values(values)
            .returning(*_ROW)
        ).first()
        if found is None:  # the row was removed under us: start afresh
            _ensure_row(conn, self._credential, now)
            return _Row()
        return _Row(*found)

    def _decide(self, conn: Connection, kind: RequestKind, row: _Row, now: datetime) -> Decision:
        if row.daily_resets_at is not None:
            return Decision(daily_resets_at=row.daily_resets_at)
        if row.blocked_until is not None and row.blocked_until > now:
            return Decision(wait=(row.blocked_until - now).total_seconds())
        window = self._rules.window(kind)
        limit = self._limit(row) if kind == "general" else window.limit
        span = timedelta(seconds=window.span)
        at = rate_grants.c.at
        in_window = (self._of(kind), at > now - span)
        held = select(func.count()).where(*in_window)
        full = conn.execute(held).scalar_one() >= limit
        if full or self._since_sweep >= limit:
            # Expired grants go now and then, not with every grant; so do grants dated more
            # than a window ahead (a clock stepped back), which would hold the window shut.
            conn.execute(
                rate_grants.delete().where(self._of(kind), or_(at <= now - span, at > now + span))
            )
            self._since_sweep = 0
            full = full and conn.execute(held).scalar_one() >= limit
        if full:  # a slot frees when the limit-th newest grant leaves the window
            oldest = conn.execute(
                select(at).where(*in_window).order_by(at.desc()).offset(limit - 1).limit(1)
            ).scalar_one()
            wait = (oldest + span - now).total_seconds()
            return Decision(wait=min(max(wait, _SHORTEST_WAIT_S), window.span))
        self._since_sweep += 1
        granted = conn.execute(
            rate_grants.insert()
            .values(credential=self._credential, kind=kind, at=now)
            .returning(rate_grants.c.id)
        ).scalar_one()
        return Decision(ticket=Ticket(kind, now.timestamp(), int(granted)))

    def _used(self, conn: Connection, kind: RequestKind, now: datetime) -> int:
        window: Window = self._rules.window(kind)
        since = now - timedelta(seconds=window.span)
        count = conn.execute(
            select(func.count()).where(self._of(kind), rate_grants.c.at > since)
        ).scalar_one()
        return int(count)

    def _of(self, kind: RequestKind) -> ColumnElement[bool]:
        return (rate_grants.c.credential == self._credential) & (rate_grants.c.kind == kind)

    def _limit(self, row: _Row) -> int:
        return row.general_limit if row.general_limit is not None else self._rules.general.limit

    def _update(self, values: dict[str, object]) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                rate_budgets.update()
                .where(rate_budgets.c.credential == self._credential)
                .values({**values, "updated_at": self._clock.now()})
            )


def _seconds_until(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (moment - now).total_seconds()) if moment is not None else 0.0


def _ensure_row(conn: Connection, credential: str, now: datetime) -> None:
    conn.execute(
        insert_for(conn, rate_budgets)
        .values(credential=credential, updated_at=now)
        .on_conflict_do_nothing(index_elements=[rate_budgets.c.credential])
    )
