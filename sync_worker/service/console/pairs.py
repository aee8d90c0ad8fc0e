"""The pairs page's rows: one per pair, from what ``sync-worker status`` reads (the state
store's status and progress), the daemon's health (a row is red where ``/healthz`` is) and each
credential's remaining daily budget (the limiters the metrics export).

The table is a list of :class:`Column` values: a new figure (say, an inbox depth) is one more
field on :class:`PairView` and one more ``Column`` in :data:`COLUMNS`; the template loops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sync_worker.kernel.model import BySide, Side
from sync_worker.runtime.wiring import CredentialRef
from sync_worker.service.console.formats import ago, when
from sync_worker.service.gauges import CredentialSource
from sync_worker.state.base import PairStatus
from sync_worker.state.progress import PairProgress


@dataclass(frozen=True, slots=True)
class Budget:
    """A side's credential and what is left of its daily budget."""

    side: Side
    endpoint: str
    remaining: int | None
    note: str | None = None
    """Why there is no figure (not paced; not reported yet)."""

    def text(self) -> str:
        figure = f"{self.remaining:,}" if self.remaining is not None else self.note or "-"
        return f"{self.side}: {figure}"


@dataclass(frozen=True, slots=True)
class PairView:
    status: PairStatus
    progress: PairProgress
    outcome: str
    budgets: tuple[Budget, ...]
    failing: bool
    failing_reason: str | None
    now: datetime

    @property
    def pair(self) -> str:
        return self.status.pair


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    href: str | None = None
    alert: bool = False
    """Drawn in red: something a person should look at."""
    title: str | None = None
    prose: bool = False
    """A sentence (a failure's reason): wraps instead of widening the table."""

    @property
    def classes(self) -> str:
        return " ".join(name for name, on in (("alert", self.alert), ("reason", self.prose)) if on)


@dataclass(frozen=True, slots=True)
class Column:
    heading: str
    cell: Callable[[PairView], Cell]


def _pair(view: PairView) -> Cell:
    return Cell(view.pair, href=f"/pairs/{quote(view.pair)}")


def _last_run(view: PairView) -> Cell:
    last = view.status.last_run
    return Cell("never" if last is None else ago(last.started_at, view.now), title=_title(last))


def _title(last: object) -> str | None:
    started = getattr(last, "started_at", None)
    return when(started) if isinstance(started, datetime) else None


def _outcome(view: PairView) -> Cell:
    return Cell(view.outcome, alert=view.outcome in ("failed", "interrupted") or view.failing)


def _lag(view: PairView) -> Cell:
    done = view.progress.synced_up_to
    if done is None:
        return Cell("never in sync", alert=view.status.last_run is not None)
    return Cell(ago(done, view.now, suffix=""), title=f"in sync up to {when(done)}")


def _count(name: str, href: str | None = None) -> Callable[[PairView], Cell]:
    def cell(view: PairView) -> Cell:
        value = int(getattr(view.status, name))
        link = None if href is None or not value else f"{href}?pair={quote(view.pair)}"
        return Cell(str(value), href=link, alert=value > 0 and name != "links")

    return cell


def _inbox(view: PairView) -> Cell:
    """Changed deals queued for the pair (rep discovery, webhooks), and how long the oldest has
    waited: entries older than a few cycles mean the pair is not draining them."""
    queued, since = view.status.inbox, view.status.inbox_since
    if not queued or since is None:
        return Cell("0")
    return Cell(f"{queued} ({ago(since, view.now)})", title=f"oldest queued {when(since)}")


def _budget(view: PairView) -> Cell:
    return Cell(" · ".join(b.text() for b in view.budgets))


def _held_by(view: PairView) -> Cell:
    return Cell(view.status.lease_holder or "-")


def _last_failure(view: PairView) -> Cell:
    if view.failing:
        return Cell(view.failing_reason or "failing", alert=True, prose=True)
    reason = view.progress.last_failure
    at = view.progress.last_failure_at
    if reason is None:
        return Cell("-")
    return Cell(f"{ago(at, view.now)}: {reason}" if at else reason, prose=True)


COLUMNS: tuple[Column, ...] = (
    Column("pair", _pair),
    Column("last run", _last_run),
    Column("outcome", _outcome),
    Column("lag", _lag),
    Column("inbox", _inbox),
    Column("links", _count("links")),
    Column("open conflicts", _count("open_conflicts", "/conflicts")),
    Column("dead letters", _count("dead_letters", "/dead-letters")),
    Column("out of scope", _count("out_of_scope")),
    Column("daily budget left", _budget),
    Column("held by", _held_by),
    Column("last failure", _last_failure),
)


def budgets(refs: BySide[CredentialRef], limiters: CredentialSource) -> tuple[Budget, Budget]:
    """Each side's remaining daily budget, as HubSpot last reported it to any process sharing
    the credential's budget."""
    remaining = {lim.label: lim.snapshot().daily_remaining for lim in limiters.limiters()}

    def budget(side: Side) -> Budget:
        ref = refs[side]
        if ref.label is None:
            return Budget(side, ref.endpoint, None, "not paced")
        figure = remaining.get(ref.label)
        return Budget(side, ref.endpoint, figure, None if figure is not None else "not reported")

    return budget(Side.PARTNER), budget(Side.REP)


def pair_views(
    rows: Sequence[PairStatus],
    progress: Sequence[PairProgress],
    failing: Mapping[str, str | None],
    budgets_of: Callable[[str], Sequence[Budget]],
    now: datetime,
) -> list[PairView]:
    by_pair = {p.pair: p for p in progress}
    return [
        PairView(
            status=row,
            progress=by_pair[row.pair],
            outcome=row.outcome,
            budgets=tuple(budgets_of(row.pair)),
            failing=row.pair in failing,
            failing_reason=failing.get(row.pair),
            now=now,
        )
        for row in rows
    ]
