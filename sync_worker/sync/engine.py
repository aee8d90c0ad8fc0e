"""One cycle of one pair: lease -> retry dead letters -> pull both sides -> process pages -> log.

Orchestration only: decisions live in :mod:`sync_worker.rules.reconcile`, page handling in
:mod:`sync_worker.sync.processor`, durable state behind :class:`~sync_worker.state.base.StateStore`.
The engine is the one place that catches connector errors, and only to act on them: an auth
failure or the daily limit stops this pair (the report says until when), any other connector
failure fails this cycle, which resumes from the committed cursors next time.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import cast

import structlog

from sync_worker.kernel.errors import AuthError, ConnectorError, DailyLimitReached, Interrupted
from sync_worker.kernel.model import Side
from sync_worker.rules.plan import Directory
from sync_worker.rules.scope import discovery_scope
from sync_worker.state.base import ChangeEntry, RunRecord, StateStore
from sync_worker.sync.context import PairContext
from sync_worker.sync.heartbeat import LeaseHeartbeat
from sync_worker.sync.ledger import Ledger
from sync_worker.sync.processor import PageProcessor
from sync_worker.sync.pull import interleave
from sync_worker.sync.writers import CrmWriter, DryRunStore, DryRunWriter, Intention, Writer

log = structlog.stdlib.get_logger("sync_worker.sync.engine")

ProgressCallback = Callable[[Side, int, int | None], None]
PROCESS_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one cycle did. ``outcome``: ok, stopped, skipped (another process holds the pair),
    or failed (``error_kind``: auth, daily_limit, connector, internal)."""

    pair: str
    run_id: str
    outcome: str
    counts: Mapping[str, int]
    api_calls: int
    duration_seconds: float
    error: str | None = None
    error_kind: str | None = None
    resume_at: datetime | None = None
    planned: tuple[ChangeEntry, ...] = ()
    intentions: tuple[Intention, ...] = ()

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


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
    if opts.dry_run:
        ctx = replace(ctx, store=cast(StateStore, DryRunStore(store)))
    counts: Counter[str] = Counter()
    writer: Writer = (
        DryRunWriter(clock)
        if opts.dry_run
        else CrmWriter({Side.PARTNER: ctx.partner, Side.REP: ctx.rep})
    )
    ledger = Ledger(
        ctx,
        opts.run_id,
        counts,
        dry_run=opts.dry_run,
        retry_base_seconds=float(ctx.interval_seconds),
    )
    if not opts.dry_run:
        store.start_run(RunRecord(opts.run_id, ctx.name, opts.mode, started))
    with structlog.contextvars.bound_contextvars(pair=ctx.name, run_id=opts.run_id):
        with nullcontext() if opts.dry_run else LeaseHeartbeat(ctx, opts.owner):
            outcome, error, kind, resume_at = _guarded(ctx, opts, writer, ledger, counts)
        api_calls = _api_calls(ctx) - calls_before
        duration = clock.monotonic() - mono
        _log_summary(
            outcome, counts=counts, api_calls=api_calls, duration=duration, error=error, opts=opts
        )
    if not opts.dry_run:
        try:
            store.finish_run(
                opts.run_id, clock.now(), outcome, {**counts, "api_calls": api_calls}, error
            )
        finally:
            store.release_lease(ctx.name, opts.owner)
    intentions = tuple(writer.intentions) if isinstance(writer, DryRunWriter) else ()
    return CycleReport(
        ctx.name,
        opts.run_id,
        outcome,
        dict(counts),
        api_calls,
        duration,
        error,
        kind,
        resume_at,
        tuple(ledger.planned),
        intentions,
    )


def _guarded(
    ctx: PairContext,
    opts: CycleOptions,
    writer: Writer,
    ledger: Ledger,
    counts: Counter[str],
) -> tuple[str, str | None, str | None, datetime | None]:
    """Run the cycle body; turn the failures the engine can act on into an outcome."""
    try:
        _cycle_body(ctx, opts, writer, ledger, counts)
    except (_LeaseLostError, Interrupted) as exc:
        return _stopped_early(exc)
    except AuthError as exc:
        log.error(  # noqa: TRY400 - an expected failure: the message says it all
            "pair_auth_failed", error=str(exc), action="pair stopped until restart"
        )
        return "failed", str(exc), "auth", None
    except DailyLimitReached as exc:
        log.error("daily_limit_reached", error=str(exc), resets_at=_iso(exc.resets_at))  # noqa: TRY400
        return "failed", str(exc), "daily_limit", exc.resets_at
    except ConnectorError as exc:
        log.error("cycle_failed", error=str(exc), status=exc.status)  # noqa: TRY400
        return "failed", str(exc), "connector", None
    except Exception as exc:  # a bug: record it, keep the daemon and the other pairs alive
        log.exception("cycle_crashed")
        return "failed", f"{type(exc).__name__}: {exc}", "internal", None
    stopped = opts.stop is not None and opts.stop.is_set()
    return ("stopped" if stopped else "ok"), None, None, None


def _cycle_body(
    ctx: PairContext,
    opts: CycleOptions,
    writer: Writer,
    ledger: Ledger,
    counts: Counter[str],
) -> None:
    processor = PageProcessor(ctx, lambda: user_directory(ctx), writer, ledger, counts)
    if opts.since is None:
        _retry_dead_letters(ctx, processor, counts)
    sources = {
        side: ctx.connector(side).changes(
            opts.since or ctx.store.get_cursor(ctx.name, side),
            discovery_scope(ctx.mapping, side),
            ctx.mapping.properties(side),
        )
        for side in Side
    }
    for side, page in interleave(sources, stop=opts.stop):
        counts[f"pulled.{side}"] += len(page.records)
        processor.process(side, page.records, page.cursor)
        if opts.progress is not None:
            opts.progress(side, len(page.records), page.total)
        if not opts.dry_run and not ctx.store.try_lease(
            ctx.name, opts.owner, ctx.clock.now(), ctx.lease_ttl_seconds
        ):
            raise _LeaseLostError(ctx.name)


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
    return CycleReport(ctx.name, opts.run_id, "skipped", {}, 0, 0.0, error, "busy")


def _stopped_early(
    exc: _LeaseLostError | Interrupted,
) -> tuple[str, str | None, str | None, datetime | None]:
    if isinstance(exc, Interrupted):
        log.warning("cycle_interrupted", detail=str(exc), action="the page in flight is redone")
        return "stopped", str(exc), None, None
    log.warning("lease_lost", detail="another process took this pair over; stopping")
    return "stopped", "lease lost to another process", "lease", None


class _LeaseLostError(Exception):
    """The pair's lease could not be renewed: another process may be working on it now."""


def user_directory(ctx: PairContext) -> Directory:
    """Both accounts' users by email: who owns which deal-team member."""
    return Directory(
        partner=frozenset(u.email for u in ctx.partner.users() if u.email),
        rep=frozenset(u.email for u in ctx.rep.users() if u.email),
    )


def _retry_dead_letters(ctx: PairContext, processor: PageProcessor, counts: Counter[str]) -> None:
    due = ctx.store.due_dead_letters(ctx.name, ctx.clock.now())
    for side in Side:
        attempts = {d.record_id: d.attempts for d in due if d.side is side}
        if not attempts:
            continue
        result = ctx.connector(side).read(list(attempts), ctx.mapping.properties(side))
        counts["dead_letters_retried"] += len(attempts)
        if result.missing:
            processor.ledger.begin(side, None, ctx.clock.now(), {})
            processor.ledger.resolve(side, result.missing)
            processor.ledger.commit()
        processor.process(side, list(result.found.values()), None, attempts=attempts)


def _api_calls(ctx: PairContext) -> int:
    return ctx.partner.api_calls() + ctx.rep.api_calls()


def _log_summary(
    outcome: str,
    *,
    counts: Counter[str],
    api_calls: int,
    duration: float,
    error: str | None,
    opts: CycleOptions,
) -> None:
    log.info(
        "cycle_finished",
        mode=opts.mode,
        outcome=outcome,
        dry_run=opts.dry_run,
        pulled_partner=counts["pulled.partner"],
        pulled_rep=counts["pulled.rep"],
        created_partner=counts["created.partner"],
        created_rep=counts["created.rep"],
        updated_partner=counts["updated.partner"],
        updated_rep=counts["updated.rep"],
        fields_changed=counts["fields_changed"],
        conflicts=counts["conflicts"],
        rejected=counts["dead_lettered"],
        gone=counts["gone"],
        out_of_scope=counts["skipped.out_of_scope"],
        api_calls=api_calls,
        duration_ms=round(duration * 1000),
        error=error,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
