"""One cycle of one pair: lease -> retry dead letters -> take the inbox -> pull -> pages -> log.

Orchestration only: decisions live in :mod:`sync_worker.rules.reconcile`, page handling in
:mod:`sync_worker.sync.processor`, durable state behind
:class:`~sync_worker.state.base.StateStore`. The engine is the one place that catches connector
errors, and only to act on them: an auth failure or the daily limit stops this pair (the report
says until when), any other connector failure fails this cycle, which resumes from the
committed cursors next time.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

import structlog

from sync_worker.kernel.errors import (
    AuthError,
    ConnectorError,
    DailyLimitReached,
    Interrupted,
    LeaseLost,
)
from sync_worker.kernel.model import Side
from sync_worker.rules.scope import discovery_scope
from sync_worker.state.base import ChangeEntry, RunRecord
from sync_worker.state.overlay import OverlayStore
from sync_worker.sync.context import PairContext
from sync_worker.sync.heartbeat import LeaseHeartbeat
from sync_worker.sync.intake import inbox_batches, pulled_sides
from sync_worker.sync.processor import PageProcessor, PageResult
from sync_worker.sync.pull import interleave
from sync_worker.sync.tally import Skip, Tally
from sync_worker.sync.team import Directories
from sync_worker.sync.writers import CrmWriter, DryRunWriter, Intention, Writer

log = structlog.stdlib.get_logger("sync_worker.sync.engine")

ProgressCallback = Callable[[Side, int, int | None], None]
PAGE_RECORDS = 200  # a search page
UNIT_RECORDS = 800
"""Pulled records processed (and committed) together: eight full batches of counterpart reads,
and most of a batch of 100 writes when a tenth of them change. Larger units fill write batches
further but add their processing to the end of a pull (measured: 1,000 made a 20k backfill
1.33x its ideal time floor, 800 1.22x, 500 1.23x but 1.19x its call floor)."""
PROCESS_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Outcome(StrEnum):
    """How a cycle ended."""

    OK = "ok"
    STOPPED = "stopped"
    """Cut short (the process is stopping, or the lease was lost); resumes from the last
    committed page."""
    SKIPPED = "skipped"
    """Another process holds the pair."""
    FAILED = "failed"


class ErrorKind(StrEnum):
    """Why a cycle failed or stopped, by what happens next."""

    AUTH = "auth"
    """A token was refused: the pair waits for a person."""
    DAILY_LIMIT = "daily_limit"
    """The portal's daily budget is spent: the pair waits until ``resume_at``."""
    CONNECTOR = "connector"
    """A CRM call failed after its retries: the next cycle tries again."""
    INTERNAL = "internal"
    """A bug: logged with its traceback; the other pairs go on."""
    LEASE = "lease"
    """Another process took the pair over."""
    BUSY = "busy"
    """Another live process holds the pair: this cycle did not sync it."""


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one cycle did; ``counts`` under the names of :meth:`Tally.as_counts`."""

    pair: str
    run_id: str
    outcome: Outcome
    counts: Mapping[str, int]
    api_calls: int
    duration_seconds: float
    error: str | None = None
    error_kind: ErrorKind | None = None
    resume_at: datetime | None = None
    planned: tuple[ChangeEntry, ...] = ()
    intentions: tuple[Intention, ...] = ()

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED


@dataclass(slots=True)
class CycleOptions:
    """How to run a cycle: ``since`` overrides both cursors (backfill); ``dry_run`` writes
    nothing to either CRM or the state."""

    mode: str = "once"
    since: datetime | None = None
    dry_run: bool = False
    stop: threading.Event | None = None
    progress: ProgressCallback | None = None
    owner: str = PROCESS_OWNER
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    unit_records: int = UNIT_RECORDS
    """Pulled records processed and committed together (see :data:`UNIT_RECORDS`)."""
    inbox_only: bool = False
    """Take the inbox (and due dead letters) only, search nothing: a run woken by a webhook
    or by discovery between two polls (mode ``inbox``)."""


@dataclass(frozen=True, slots=True)
class _Ended:
    outcome: Outcome
    error: str | None = None
    kind: ErrorKind | None = None
    resume_at: datetime | None = None


@dataclass(slots=True)
class _Totals:
    """One cycle's totals, summed from each page's result and nothing else."""

    tally: Tally = field(default_factory=Tally)
    planned: list[ChangeEntry] = field(default_factory=list)

    def add(self, page: PageResult) -> None:
        self.tally += page.tally
        self.planned += page.changes


def run_cycle(ctx: PairContext, options: CycleOptions | None = None) -> CycleReport:
    """Run one cycle of ``ctx``'s pair and report it; never raises for a connector failure."""
    opts = options or CycleOptions()
    store, clock = ctx.store, ctx.clock
    started, mono = clock.now(), clock.monotonic()
    calls_before = _api_calls(ctx)
    if not opts.dry_run and not store.try_lease(
        ctx.name, opts.owner, started, ctx.lease_ttl_seconds
    ):
        return _busy(ctx, opts)
    connectors = {Side.PARTNER: ctx.partner, Side.REP: ctx.rep}
    writer: Writer = CrmWriter(connectors)
    if opts.dry_run:
        ctx = replace(ctx, store=OverlayStore(store))
        writer = DryRunWriter(clock, connectors)
    else:
        # Started once the lease is won: a run log whose runs of one pair overlap would say
        # two processes ran it at once (read before the lease, it did, by the wait).
        store.start_run(RunRecord(opts.run_id, ctx.name, opts.mode, clock.now()))
    totals = _Totals()
    with structlog.contextvars.bound_contextvars(pair=ctx.name, run_id=opts.run_id):
        # The lease is renewed by a heartbeat while the cycle runs, retry waits included.
        with nullcontext() if opts.dry_run else LeaseHeartbeat(ctx, opts.owner):
            ended = _guarded(ctx, opts, writer, totals)
        api_calls = _api_calls(ctx) - calls_before
        duration = clock.monotonic() - mono
        _log_summary(ended, tally=totals.tally, api_calls=api_calls, duration=duration, opts=opts)
    counts = totals.tally.as_counts()
    if not opts.dry_run:
        try:
            store.finish_run(
                opts.run_id,
                clock.now(),
                ended.outcome,
                {**counts, "api_calls": api_calls},
                ended.error,
            )
        finally:
            store.release_lease(ctx.name, opts.owner)
    return CycleReport(
        ctx.name,
        opts.run_id,
        ended.outcome,
        counts,
        api_calls,
        duration,
        ended.error,
        ended.kind,
        ended.resume_at,
        tuple(totals.planned) if opts.dry_run else (),
        tuple(writer.intentions) if isinstance(writer, DryRunWriter) else (),
    )


def _guarded(ctx: PairContext, opts: CycleOptions, writer: Writer, totals: _Totals) -> _Ended:
    """Run the cycle body; turn the failures the engine can act on into an outcome."""
    try:
        _cycle_body(ctx, opts, writer, totals)
    except (LeaseLost, Interrupted, ConnectorError) as exc:
        return _ended_by(exc)
    except Exception as exc:  # a bug: record it, keep the daemon and the other pairs alive
        log.exception("cycle_crashed")
        return _Ended(Outcome.FAILED, f"{type(exc).__name__}: {exc}", ErrorKind.INTERNAL)
    stopped = opts.stop is not None and opts.stop.is_set()
    return _Ended(Outcome.STOPPED if stopped else Outcome.OK)


def _ended_by(exc: LeaseLost | Interrupted | ConnectorError) -> _Ended:
    """The outcome of a failure the engine expects; each is logged once, as an event."""
    if isinstance(exc, LeaseLost):
        log.warning("lease_lost", detail="another process took this pair over; stopping")
        return _Ended(Outcome.STOPPED, str(exc), ErrorKind.LEASE)
    if isinstance(exc, Interrupted):
        log.warning("cycle_interrupted", detail=str(exc), action="the page in flight is redone")
        return _Ended(Outcome.STOPPED, str(exc))
    if isinstance(exc, AuthError):
        log.error("pair_auth_failed", error=str(exc), action="pair stopped until restart")
        return _Ended(Outcome.FAILED, str(exc), ErrorKind.AUTH)
    if isinstance(exc, DailyLimitReached):
        log.error("daily_limit_reached", error=str(exc), resets_at=_iso(exc.resets_at))
        return _Ended(Outcome.FAILED, str(exc), ErrorKind.DAILY_LIMIT, exc.resets_at)
    log.error("cycle_failed", error=str(exc), status=exc.status)
    return _Ended(Outcome.FAILED, str(exc), ErrorKind.CONNECTOR)


def _cycle_body(ctx: PairContext, opts: CycleOptions, writer: Writer, totals: _Totals) -> None:
    processor = PageProcessor(
        ctx,
        Directories(ctx),
        writer,
        opts.run_id,
        retry_base_seconds=float(ctx.interval_seconds),
    )
    if opts.since is None:
        _retry_dead_letters(ctx, processor, totals)
        for intake in inbox_batches(ctx, opts.unit_records, opts.stop):
            result = processor.process(
                intake.side, intake.records, None, taken=intake.taken, read_live=intake.read_live
            )
            totals.add(result)
            if opts.progress is not None:
                opts.progress(intake.side, intake.entries, None)
            _renew(ctx, opts)
    if opts.inbox_only:
        return
    sources = {
        side: ctx.connector(side).changes(
            opts.since or ctx.store.get_cursor(ctx.name, side),
            discovery_scope(ctx.mapping, side),
            ctx.mapping.properties(side),
        )
        for side in pulled_sides(ctx, opts.since)
    }
    # A unit reads its counterparts on the other portal: when both sides have one ready, take
    # the one whose reads land on the portal that has been asked less (a backfill, whose pairs
    # both pulls meet at once, then spreads its reads over both portals' budgets).
    spent = lambda side: float(ctx.connector(side.other).api_calls())  # noqa: E731
    # Enough pages in flight for a unit of each side to be ready while one is processed.
    prefetch = max(2, opts.unit_records // PAGE_RECORDS + 1)
    units = interleave(
        sources, stop=opts.stop, unit=opts.unit_records, prefer=spent, prefetch=prefetch
    )
    for side, page in units:
        totals.add(processor.process(side, page.records, page.cursor))
        if opts.progress is not None:
            opts.progress(side, len(page.records), page.total)
        _renew(ctx, opts)


def _renew(ctx: PairContext, opts: CycleOptions) -> None:
    if not opts.dry_run and not ctx.store.try_lease(
        ctx.name, opts.owner, ctx.clock.now(), ctx.lease_ttl_seconds
    ):
        raise LeaseLost(ctx.name)


def _busy(ctx: PairContext, opts: CycleOptions) -> CycleReport:
    """The pair is held by another live process: say which, and that this pair did not sync."""
    holder = ctx.store.status([ctx.name])[0].lease_holder or "another process"
    log.warning(
        "pair_busy",
        pair=ctx.name,
        holder=holder,
        detail="another process holds this pair's lease; this pair was not synced",
    )
    error = f"not synced: {holder} is syncing this pair"
    return CycleReport(ctx.name, opts.run_id, Outcome.SKIPPED, {}, 0, 0.0, error, ErrorKind.BUSY)


def _retry_dead_letters(ctx: PairContext, processor: PageProcessor, totals: _Totals) -> None:
    due = ctx.store.due_dead_letters(ctx.name, ctx.clock.now())
    for side in Side:
        attempts = {d.record_id: d.attempts for d in due if d.side is side}
        if not attempts:
            continue
        result = ctx.connector(side).read(list(attempts), ctx.mapping.properties(side))
        totals.tally += Tally(dead_letters_retried=len(attempts))
        found = list(result.found.values())
        totals.add(processor.process(side, found, None, attempts=attempts, missing=result.missing))


def _api_calls(ctx: PairContext) -> int:
    return ctx.partner.api_calls() + ctx.rep.api_calls()


def _log_summary(
    ended: _Ended, *, tally: Tally, api_calls: int, duration: float, opts: CycleOptions
) -> None:
    log.info(
        "cycle_finished",
        mode=opts.mode,
        outcome=str(ended.outcome),
        dry_run=opts.dry_run,
        pulled_partner=tally.pulled.partner,
        pulled_rep=tally.pulled.rep,
        created_partner=tally.created.partner,
        created_rep=tally.created.rep,
        updated_partner=tally.updated.partner,
        updated_rep=tally.updated.rep,
        fields_changed=tally.fields_changed,
        conflicts=tally.conflicts,
        rejected=tally.dead_lettered,
        gone=tally.gone,
        out_of_scope=tally.skipped.get(Skip.OUT_OF_SCOPE, 0),
        api_calls=api_calls,
        duration_ms=round(duration * 1000),
        error=ended.error,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
