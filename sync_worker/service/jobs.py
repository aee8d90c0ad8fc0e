"""The daemon's scheduler and its jobs: one per pair, one rep discovery per rep endpoint, the
watcher, history pruning, and one-off wake-ups.

Executors: pairs share ``max_parallel_pairs`` threads; the watcher has a thread of its own (with
every worker in a long cycle it must still beat, or the other daemons count this one dead and
take its pairs), and so has rep discovery (long pair cycles must not hold back every pair's rep
changes).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from sync_worker.runtime.wiring import Runtime
from sync_worker.state.base import endpoint_key

PRUNE_JOB = "worker:prune-history"  # ":" cannot occur in a pair name (a pair's job id)
PRUNE_DELAY = timedelta(minutes=10)  # after the first cycles, not competing with them
WATCH_JOB = "worker:watch"
WATCH_EXECUTOR = "watch"
DISCOVERY_EXECUTOR = "discovery"
WATCH_SECONDS = 2.0


def make_scheduler(max_parallel_pairs: int) -> BackgroundScheduler:
    return BackgroundScheduler(
        timezone=UTC,
        executors={
            "default": ThreadPoolExecutor(max_parallel_pairs),
            WATCH_EXECUTOR: ThreadPoolExecutor(1),
            DISCOVERY_EXECUTOR: ThreadPoolExecutor(1),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )


def add_pairs(
    scheduler: BackgroundScheduler,
    runtime: Runtime,
    run: Callable[[str], None],
    *,
    skip: Iterable[str],
    jitter: float,
) -> None:
    """A job per pair at its interval, each starting at a random moment within ``jitter``."""
    now, refused = runtime.clock.now(), set(skip)
    for name, ctx in runtime.pairs.items():
        if name in refused:
            continue
        scheduler.add_job(
            run,
            IntervalTrigger(seconds=ctx.interval_seconds, jitter=jitter),
            args=[name],
            id=name,
            name=f"sync {name}",
            next_run_time=now + timedelta(seconds=random.uniform(0, jitter)),
        )


def add_discoveries(
    scheduler: BackgroundScheduler, runtime: Runtime, run: Callable[[str], None], jitter: float
) -> None:
    """A rep discovery per rep endpoint, at the shortest interval of its pairs, first at once."""
    for endpoint, discovery in runtime.discoveries.items():
        interval = min(runtime.pairs[p].interval_seconds for p in discovery.pairs)
        scheduler.add_job(
            run,
            IntervalTrigger(seconds=interval, jitter=jitter),
            args=[endpoint],
            id=endpoint_key(endpoint),
            name=f"discover {endpoint}",
            next_run_time=runtime.clock.now(),
            executor=DISCOVERY_EXECUTOR,
        )


def add_upkeep(
    scheduler: BackgroundScheduler,
    runtime: Runtime,
    *,
    watch: Callable[[], None],
    prune: Callable[[], None] | None,
    jitter: float,
) -> None:
    """The watcher every :data:`WATCH_SECONDS`; history pruning daily when retention is on."""
    scheduler.add_job(
        watch,
        IntervalTrigger(seconds=WATCH_SECONDS),
        id=WATCH_JOB,
        name="watch",
        executor=WATCH_EXECUTOR,
    )
    if prune is not None:
        scheduler.add_job(
            prune,
            IntervalTrigger(hours=24, jitter=jitter),
            id=PRUNE_JOB,
            name="prune history",
            next_run_time=runtime.clock.now() + PRUNE_DELAY,
        )


def add_wake(
    scheduler: BackgroundScheduler,
    key: str,
    run: Callable[..., None],
    at: datetime,
    *,
    discovery: bool,
) -> None:
    """A one-off woken run of ``key`` at ``at``, beside its schedule; one pending at a time (a
    stream of webhooks cannot keep postponing it)."""
    wake_id = f"wake:{key}"
    if scheduler.get_job(wake_id) is not None:
        return
    scheduler.add_job(
        run,
        DateTrigger(run_date=at),
        args=[key.removeprefix("endpoint:")],
        kwargs={"woken": True},
        id=wake_id,
        name=f"wake {key}",
        executor=DISCOVERY_EXECUTOR if discovery else "default",
    )
