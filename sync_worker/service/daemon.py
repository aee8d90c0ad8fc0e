"""The daemon: one APScheduler job per pair, calling the same cycle as ``once``.

* Each pair runs at its interval plus jitter; ``max_instances=1`` so a pair never overlaps
  itself, ``coalesce`` so missed runs collapse into one.
* SIGTERM/SIGINT sets a stop event: running cycles finish the page they are on, commit it, and
  return; the scheduler then shuts down (waiting up to ``stop_grace_seconds``) and the process
  exits 0. A cycle still sleeping near the end of the grace (a long ``Retry-After``) has the
  sleep cut short and stops without committing that page.
* Once a day (first ten minutes after start) old history is pruned (``worker.history_days``).
* Before scheduling, each pair's mapping is checked against its portals' properties; a pair
  they cannot serve is refused (``pair_refused``, and ``/healthz`` red naming it), the others run.
* With ``[console] enabled``, the web console is served on its own address (127.0.0.1 by
  default); it reads through the same runtime and can ask for a pair's cycle soon.
* An auth failure pauses only that pair (a human must fix the token; restart resumes it); the
  daily limit postpones only that pair until the limit resets.
* Rep discovery runs as a job per rep endpoint (at its pairs' shortest interval): one pull finds
  the rep changes of every pair on it and queues them in the pairs' inboxes.
* Daemons sharing a store split the pairs and discoveries (:mod:`.sharing`): a watcher beats
  every :data:`WATCH_SECONDS`, recomputes this daemon's share from the live daemons, runs pairs
  it newly owns at once (a dead daemon's pairs are taken within :data:`REPLICA_TTL_SECONDS`, at
  once on the same machine), and wakes the pairs and discoveries whose inbox got entries since
  they last started (discovery in another daemon, or a webhook) after :data:`WAKE_DELAY_SECONDS`.
* HubSpot webhooks (:mod:`.webhooks`), when an endpoint has a webhook secret: the HTTP server
  also serves ``POST /webhooks/hubspot/{endpoint}``, which queues the changed deals in the inbox
  (``store.enqueue``) and wakes their pairs or discovery (:meth:`Daemon.wake`) at once.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from sync_worker.ops.preflight import refused_pairs
from sync_worker.runtime.wiring import Runtime
from sync_worker.service.http import ThreadedServer
from sync_worker.service.metrics import Health, Metrics, build_app
from sync_worker.service.sharing import share_of
from sync_worker.service.webhooks import daemon_routes
from sync_worker.state.base import endpoint_key
from sync_worker.sync.discoverer import DiscoverOptions, discover
from sync_worker.sync.engine import PROCESS_OWNER, CycleOptions, CycleReport, run_cycle

log = structlog.stdlib.get_logger("sync_worker.service.daemon")

INTERRUPT_MARGIN_SECONDS = 5.0  # of the grace period, left for interrupted cycles to end
PRUNE_JOB = "worker:prune-history"  # ":" cannot occur in a pair name (a pair's job id)
WATCH_JOB = "worker:watch"
WATCH_EXECUTOR = "watch"
DISCOVERY_EXECUTOR = "discovery"
WATCH_SECONDS = 2.0
REPLICA_TTL_SECONDS = 10.0
WAKE_DELAY_SECONDS = 1.0
"""A burst of changes (webhooks for one deal's edits) coalesces into one cycle."""
PRUNE_DELAY = timedelta(minutes=10)  # after the first cycles, not competing with them
_NEVER = datetime.min.replace(tzinfo=UTC)


class Daemon:
    """Runs every enabled pair on its schedule until asked to stop."""

    def __init__(self, runtime: Runtime, *, metrics: Metrics | None = None) -> None:
        self.runtime = runtime
        worker = runtime.config.settings.worker
        self.worker = worker
        self.stop_event = threading.Event()
        self.metrics = metrics or Metrics()
        self.metrics.watch_credentials(runtime.limiters)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            # The watcher has a thread of its own: with every worker in a long cycle it must
            # still beat, or the other daemons count this one dead and take its pairs. Rep
            # discovery has one too: long pair cycles must not hold back every pair's rep changes.
            executors={
                "default": ThreadPoolExecutor(worker.max_parallel_pairs),
                WATCH_EXECUTOR: ThreadPoolExecutor(1),
                DISCOVERY_EXECUTOR: ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.health = Health(
            threshold=worker.unhealthy_after_failures,
            scheduler_alive=lambda: self.scheduler.running,
        )
        self.server: ThreadedServer | None = None
        self.console: ThreadedServer | None = None
        self.share = share_of(PROCESS_OWNER, [], runtime.pairs, runtime.discoveries)
        self.started: dict[str, datetime] = {}
        """When each pair's cycle (or endpoint's discovery, under its inbox key) last started."""
        self.running: set[str] = set()
        self._lock = threading.Lock()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT ask for a graceful stop (main thread only)."""

        def handler(signum: int, _: FrameType | None) -> None:
            log.info("shutdown_requested", signal=signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def start(self) -> None:
        """Start the metrics/health server (first: a busy port fails before any sync), then
        schedule every pair and start the scheduler."""
        webhooks = daemon_routes(
            self.runtime,
            sink=self.runtime.store.enqueue,
            wake=self.wake,
            counters=self.metrics.webhooks,
            serving=bool(self.worker.metrics_port),
        )
        if self.worker.metrics_port:
            app = build_app(self.metrics, self.health, webhooks)
            self.server = ThreadedServer(
                app, host=self.worker.metrics_host, port=self.worker.metrics_port, name="metrics"
            ).start()
        self._start_console()
        now = self.runtime.clock.now()
        refused = refused_pairs(self.runtime.pairs)
        for name, problems in refused.items():
            self.health.pause(name, f"refused: {'; '.join(problems)}")
        for name, ctx in self.runtime.pairs.items():
            if name in refused:
                continue
            first = now + timedelta(seconds=random.uniform(0, self.worker.jitter_seconds))
            self.scheduler.add_job(
                self._run_pair,
                IntervalTrigger(seconds=ctx.interval_seconds, jitter=self.worker.jitter_seconds),
                args=[name],
                id=name,
                name=f"sync {name}",
                next_run_time=first,
            )
        self._watch()  # this daemon's share, before the first cycle
        for endpoint, discovery in self.runtime.discoveries.items():
            interval = min(self.runtime.pairs[p].interval_seconds for p in discovery.pairs)
            self.scheduler.add_job(
                self._discover,
                IntervalTrigger(seconds=interval, jitter=self.worker.jitter_seconds),
                args=[endpoint],
                id=endpoint_key(endpoint),
                name=f"discover {endpoint}",
                next_run_time=now,
                executor=DISCOVERY_EXECUTOR,
            )
        self.scheduler.add_job(
            self._watch,
            IntervalTrigger(seconds=WATCH_SECONDS),
            id=WATCH_JOB,
            name="watch",
            executor=WATCH_EXECUTOR,
        )
        if self.worker.history_days:
            self.scheduler.add_job(
                self._prune,
                IntervalTrigger(hours=24, jitter=self.worker.jitter_seconds),
                id=PRUNE_JOB,
                name="prune history",
                next_run_time=now + PRUNE_DELAY,
            )
        self.scheduler.start()
        log.info(
            "daemon_started",
            pairs=sorted(self.runtime.pairs),
            metrics=self.server.url if self.server else None,
            console=self.console.url if self.console else None,
        )

    def _start_console(self) -> None:
        """Serve the web console when configured; a busy port raises OSError (before any
        sync, like the metrics port)."""
        settings = self.runtime.config.settings.console
        if not settings.enabled:
            return
        from sync_worker.service.console import ConsoleDeps, build_console

        deps = ConsoleDeps(self.runtime, self.health, self.run_soon)
        app = build_console(deps, settings, self.runtime.config.console_users)
        try:
            self.console = ThreadedServer(
                app, host=settings.host, port=settings.port, name="console"
            ).start()
        except OSError:
            if self.server is not None:
                self.server.stop()
            raise

    def run_soon(self, pair: str) -> bool:
        """Run ``pair``'s next cycle now (a person asked, e.g. to retry a dead letter); False
        when the pair is not scheduled, is paused (its credentials were refused), another
        daemon runs it, or this daemon is stopping."""
        job = self.scheduler.get_job(pair) if self.scheduler.running else None
        if job is None or job.next_run_time is None or self.stop_event.is_set():
            return False
        if pair not in self.share.pairs:  # another daemon runs it, on its own schedule
            return False
        self.scheduler.modify_job(pair, next_run_time=self.runtime.clock.now())
        return True

    def wait(self) -> None:
        """Block until a stop is requested, then shut down gracefully."""
        self.stop_event.wait()
        self.shutdown()

    def shutdown(self) -> None:
        """Let running cycles finish their page and commit; a cycle still waiting (a retry
        backoff, rate-limit pacing) when the grace period nears its end has the wait cut short
        and stops without committing that page, so the process exits within the grace."""
        self.stop_event.set()
        stopper = threading.Thread(target=self.scheduler.shutdown, kwargs={"wait": True})
        stopper.start()
        grace = self.worker.stop_grace_seconds
        margin = min(INTERRUPT_MARGIN_SECONDS, grace / 2)
        stopper.join(timeout=grace - margin)
        if stopper.is_alive():
            log.warning("shutdown_interrupting_waits", after_seconds=round(grace - margin, 1))
            self.runtime.clock.interrupt()
            stopper.join(timeout=margin)
        if stopper.is_alive():
            log.warning("shutdown_grace_exceeded", seconds=grace)
        for server in (self.console, self.server):
            if server is not None:
                server.stop()
        try:
            self.runtime.store.leave(PROCESS_OWNER)
        except SQLAlchemyError:  # the others see this daemon gone when its beats stop
            log.warning("replica_leave_failed", exc_info=True)
        log.info("daemon_stopped")

    def _run_pair(self, name: str) -> None:
        if self.stop_event.is_set() or name not in self.share.pairs:
            return
        with self._running(name):
            ctx = self.runtime.pairs[name]
            report = run_cycle(ctx, CycleOptions(mode="daemon", stop=self.stop_event))
        self.after_cycle(report)

    def _discover(self, endpoint: str) -> None:
        if self.stop_event.is_set() or endpoint not in self.share.discoveries:
            return
        options = DiscoverOptions(
            PROCESS_OWNER, self.worker.lease_ttl_seconds, stop=self.stop_event
        )
        with self._running(endpoint_key(endpoint)):
            report = discover(
                self.runtime.discoveries[endpoint], self.runtime.store, self.runtime.clock, options
            )
        self.metrics.observe_discovery(report)
        self.health.record_discovery(report)
        self.wake(report.routed)
        if report.resume_at is not None:  # the rep portal's daily budget is spent
            job = self.scheduler.get_job(endpoint_key(endpoint))
            if job is not None:
                job.modify(next_run_time=_aware(report.resume_at))
            log.warning(
                "discovery_postponed", endpoint=endpoint, until=report.resume_at.isoformat()
            )

    @contextmanager
    def _running(self, key: str) -> Iterator[None]:
        with self._lock:
            self.running.add(key)
            self.started[key] = self.runtime.clock.now()
        try:
            yield
        finally:
            with self._lock:
                self.running.discard(key)

    def wake(self, keys: Iterable[str]) -> None:
        """Run these pairs (or ``endpoint:<name>`` discoveries) of this daemon's share soon,
        after :data:`WAKE_DELAY_SECONDS`; the others are woken by the daemon that owns them."""
        soon = _aware(self.runtime.clock.now()) + timedelta(seconds=WAKE_DELAY_SECONDS)
        for key in keys:
            endpoint = key.removeprefix("endpoint:")
            mine = key in self.share.pairs or (
                key != endpoint and endpoint in self.share.discoveries
            )
            job = self.scheduler.get_job(key) if mine and key not in self.running else None
            # A paused pair (auth) has no next run time, and stays paused.
            if job is not None and job.next_run_time is not None and job.next_run_time > soon:
                job.modify(next_run_time=soon)

    def _watch(self) -> None:
        """Beat, take this daemon's share, and wake what has queued changes."""
        try:
            live = self.runtime.store.beat(
                PROCESS_OWNER, os.getpid(), self.runtime.clock.now(), REPLICA_TTL_SECONDS
            )
            heads = self.runtime.store.inbox_heads()
        except SQLAlchemyError:  # the store may be down for a while; the next beat retries
            log.warning("watch_failed", exc_info=True)
            return
        before = self.share
        self.share = share_of(PROCESS_OWNER, live, self.runtime.pairs, self.runtime.discoveries)
        if self.share != before:
            log.info("share_changed", replicas=self.share.replicas, pairs=len(self.share.pairs))
        fresh = (self.share.pairs - before.pairs) | {
            endpoint_key(e) for e in self.share.discoveries - before.discoveries
        }
        queued = {k for k, at in heads.items() if at > self.started.get(k, _NEVER)}
        if self.scheduler.running:
            self.wake(fresh | queued)

    def _prune(self) -> None:
        try:
            self.runtime.prune_history()
        except Exception:  # the store may be down for a while: sync goes on, tomorrow retries
            log.exception("history_prune_failed")

    def after_cycle(self, report: CycleReport) -> None:
        """Metrics, health, and pausing a pair that cannot go on."""
        self.metrics.observe(report, self.runtime.clock.now())
        failures = self.health.record(report)
        self.metrics.failing.labels(report.pair).set(failures)
        self._count_backlog(report.pair)
        if report.error_kind == "auth":
            self.scheduler.pause_job(report.pair)
            self.health.pause(report.pair, f"auth: {report.error}")
            log.error(
                "pair_paused", pair=report.pair, reason="credentials refused; fix and restart"
            )
        elif report.error_kind == "daily_limit":
            resume = report.resume_at or (self.runtime.clock.now() + timedelta(hours=1))
            self.scheduler.modify_job(report.pair, next_run_time=_aware(resume))
            log.warning("pair_postponed", pair=report.pair, until=resume.isoformat())

    def _count_backlog(self, pair: str) -> None:
        try:
            (row,) = self.runtime.store.status([pair])
        except SQLAlchemyError:  # the store may be down for a while; the next cycle counts
            log.warning("backlog_not_counted", pair=pair, exc_info=True)
            return
        self.metrics.backlog(
            pair, open_conflicts=row.open_conflicts, dead_letters=row.dead_letters, inbox=row.inbox
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
