"""Prometheus metrics and the health endpoint the daemon serves.

``/metrics``: prometheus_client's own ASGI app (text format, or OpenMetrics when asked), with
the process collector (CPU, memory, open files, start time) and the Python platform info.
Counters carry no separate ``*_created`` series. ``/healthz``: 200 when the scheduler is alive
and no pair has failed ``unhealthy_after_failures`` cycles in a row (or is paused on an auth
failure), else 503; the JSON body says which pairs are failing and why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    make_asgi_app,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sync_worker.service.gauges import CredentialCollector, CredentialSource
from sync_worker.service.webhooks.counters import WebhookCounters
from sync_worker.sync.discoverer import DiscoveryReport
from sync_worker.sync.engine import CycleReport

# A `*_created` sample per counter doubles every series in the text format for a value nobody
# graphs; prometheus_client switches them off process-wide.
disable_created_metrics()  # type: ignore[no-untyped-call]

_DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


class Metrics:
    """Every metric the worker exports, on its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.cycles = Counter(
            "sync_cycles", "Cycles run, by outcome.", ["pair", "outcome"], registry=r
        )
        self.pulled = Counter(
            "sync_records_pulled", "Changed records pulled.", ["pair", "side"], registry=r
        )
        self.created = Counter(
            "sync_counterparts_created", "Counterparts created.", ["pair", "side"], registry=r
        )
        self.updated = Counter(
            "sync_records_updated", "Records written.", ["pair", "side"], registry=r
        )
        self.changes = Counter("sync_field_changes", "Field values changed.", ["pair"], registry=r)
        self.conflicts = Counter(
            "sync_conflicts", "Conflicts recorded for a person.", ["pair"], registry=r
        )
        self.dead_letters = Counter(
            "sync_dead_letters", "Records dead-lettered.", ["pair"], registry=r
        )
        self.api_calls = Counter("sync_api_calls", "CRM API requests sent.", ["pair"], registry=r)
        self.out_of_scope = Counter(
            "sync_linked_out_of_scope",
            "Linked deals pulled but not synced: their pair is out of scope.",
            ["pair"],
            registry=r,
        )
        self.duration = Histogram(
            "sync_cycle_duration_seconds",
            "Cycle duration.",
            ["pair"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "sync_last_success_timestamp_seconds",
            "End of the last successful cycle.",
            ["pair"],
            registry=r,
        )
        self.failing = Gauge(
            "sync_pair_consecutive_failures", "Cycles failed in a row.", ["pair"], registry=r
        )
        self.open_conflicts = Gauge(
            "sync_open_conflicts", "Conflicts awaiting a person now.", ["pair"], registry=r
        )
        self.dead_letter_backlog = Gauge(
            "sync_dead_letter_backlog", "Open dead letters now.", ["pair"], registry=r
        )
        self.inbox = Gauge(
            "sync_inbox_depth",
            "Changed deals queued for the pair's next cycle.",
            ["pair"],
            registry=r,
        )
        self.discoveries = Counter(
            "sync_discovery_runs",
            "Rep discovery runs, by outcome (ok, failed, busy: another daemon ran it).",
            ["endpoint", "outcome"],
            registry=r,
        )
        self.discovered = Counter(
            "sync_discovery_queued",
            "Inbox entries queued by rep discovery.",
            ["endpoint"],
            registry=r,
        )
        self.discovery_calls = Counter(
            "sync_discovery_api_calls", "CRM requests of rep discovery.", ["endpoint"], registry=r
        )
        self.webhooks = WebhookCounters(r)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def watch_credentials(self, limiters: CredentialSource) -> None:
        """Export each credential's budget, limiter waits and 429/5xx answers."""
        self.registry.register(CredentialCollector(limiters))

    def backlog(self, pair: str, *, open_conflicts: int, dead_letters: int, inbox: int = 0) -> None:
        self.open_conflicts.labels(pair).set(open_conflicts)
        self.dead_letter_backlog.labels(pair).set(dead_letters)
        self.inbox.labels(pair).set(inbox)

    def observe_discovery(self, report: DiscoveryReport) -> None:
        outcome = "busy" if not report.ran else "failed" if report.failed else "ok"
        self.discoveries.labels(report.endpoint, outcome).inc()
        self.discovered.labels(report.endpoint).inc(sum(report.routed.values()))
        self.discovery_calls.labels(report.endpoint).inc(report.api_calls)

    def observe(self, report: CycleReport, now: datetime) -> None:
        pair, counts = report.pair, report.counts
        self.cycles.labels(pair, report.outcome).inc()
        for side in ("partner", "rep"):
            self.pulled.labels(pair, side).inc(counts.get(f"pulled.{side}", 0))
            self.created.labels(pair, side).inc(counts.get(f"created.{side}", 0))
            self.updated.labels(pair, side).inc(counts.get(f"updated.{side}", 0))
        self.changes.labels(pair).inc(counts.get("fields_changed", 0))
        self.conflicts.labels(pair).inc(counts.get("conflicts", 0))
        self.dead_letters.labels(pair).inc(counts.get("dead_lettered", 0))
        self.api_calls.labels(pair).inc(report.api_calls)
        self.out_of_scope.labels(pair).inc(counts.get("skipped.out_of_scope", 0))
        self.duration.labels(pair).observe(report.duration_seconds)
        if report.outcome in ("ok", "stopped"):
            self.last_success.labels(pair).set(now.timestamp())

    def render(self) -> bytes:
        return generate_latest(self.registry)


@dataclass(slots=True)
class Health:
    """Tracks consecutive failures per pair; decides healthy or not."""

    threshold: int
    scheduler_alive: Callable[[], bool] = lambda: True
    failures: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    paused: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, report: CycleReport) -> int:
        """Update after a cycle; returns the pair's consecutive failures."""
        with self._lock:
            if report.failed:
                self.failures[report.pair] = self.failures.get(report.pair, 0) + 1
                self.reasons[report.pair] = f"{report.error_kind}: {report.error}"
            elif report.outcome in ("ok", "stopped"):
                self.failures[report.pair] = 0
                self.reasons.pop(report.pair, None)
            return self.failures.get(report.pair, 0)

    def record_discovery(self, report: DiscoveryReport) -> int:
        """Update after a rep discovery, under its lease name (``discover:<endpoint>``): one
        failing for ``threshold`` runs in a row turns health red, since every pair it serves
        stops receiving rep changes."""
        if not report.ran:
            return 0
        name = f"discover:{report.endpoint}"
        with self._lock:
            if report.failed:
                self.failures[name] = self.failures.get(name, 0) + 1
                self.reasons[name] = f"rep discovery: {report.error}"
            else:
                self.failures[name] = 0
                self.reasons.pop(name, None)
            return self.failures[name]

    def pause(self, pair: str, reason: str) -> None:
        with self._lock:
            self.paused.add(pair)
            self.reasons[pair] = reason

    def failing_pairs(self) -> dict[str, str | None]:
        """The pairs ``/healthz`` names as failing, with why (the console shows them red)."""
        with self._lock:
            return {pair: self.reasons.get(pair) for pair in self._failing()}

    def snapshot(self) -> tuple[bool, dict[str, object]]:
        with self._lock:
            failing: dict[str, dict[str, object]] = {
                pair: {
                    "consecutive_failures": self.failures[pair],
                    "reason": self.reasons.get(pair),
                }
                for pair in self._failing()
                if pair not in self.paused
            }
            failing.update(
                {p: {"paused": True, "reason": self.reasons.get(p)} for p in self.paused}
            )
        alive = self.scheduler_alive()
        healthy = alive and not failing
        return healthy, {"healthy": healthy, "scheduler_alive": alive, "failing_pairs": failing}

    def _failing(self) -> list[str]:
        """Pairs failed ``threshold`` cycles in a row, or paused (call with the lock held)."""
        over = [pair for pair, n in self.failures.items() if n >= self.threshold]
        return sorted({*over, *self.paused})


class _Passthrough:
    """An ASGI app as an object: Starlette's Route hands it requests unchanged (a plain
    function would be wrapped as a request handler), at ``/metrics`` exactly (a Mount would
    redirect ``/metrics`` to ``/metrics/``)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def build_app(
    metrics: Metrics, health: Health, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """The daemon's HTTP surface: ``/metrics`` and ``/healthz``, plus ``extra_routes`` (the
    webhook route, when an endpoint has a webhook secret)."""

    async def health_endpoint(_: Request) -> Response:
        healthy, body = health.snapshot()
        return JSONResponse(body, status_code=200 if healthy else 503)

    return Starlette(
        routes=[
            Route("/metrics", _Passthrough(make_asgi_app(metrics.registry))),
            Route("/healthz", health_endpoint),
            *extra_routes,
        ]
    )
