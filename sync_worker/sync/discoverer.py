"""Run rep discovery for one endpoint: hold its lease, pull each group, route, commit.

See :mod:`sync_worker.sync.discovery` for what is discovered and why. Like a pair's cycle, a
discovery never raises for a connector failure: it reports it, and the next run resumes from
the last committed page.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from sync_worker.connectors.base import Connector
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    DailyLimitReached,
    Interrupted,
    LeaseLost,
)
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.state.base import InboxEntry, RunRecord, StateStore, endpoint_key
from sync_worker.state.progress import INBOX_MODE
from sync_worker.sync.discovery import (
    Group,
    Routed,
    cursor_marks,
    lease_name,
    route_page,
    start_cursor,
    taken_from_endpoint,
)
from sync_worker.sync.sorting import settled

log = structlog.stdlib.get_logger("sync_worker.sync.discoverer")

ENDPOINT_BATCH = 500
"""Ids queued for the endpoint (webhooks) read and routed per commit."""


@dataclass(frozen=True, slots=True)
class Discovery:
    """One rep endpoint's discovery: its own connector (its calls are counted apart from every
    pair's) and its groups."""

    endpoint: str
    connector: Connector
    groups: tuple[Group, ...]

    @property
    def pairs(self) -> tuple[str, ...]:
        return tuple(p for g in self.groups for p in g.pairs)


@dataclass(slots=True)
class DiscoveryReport:
    """What one discovery run did."""

    endpoint: str
    ran: bool = True
    """False when another process was discovering this endpoint."""
    pulled: int = 0
    routed: dict[str, int] = field(default_factory=dict)
    """Inbox entries queued per pair."""
    unrouted: int = 0
    seen: int = 0
    """Changed deals not queued: their pair already holds these values (echoes)."""
    api_calls: int = 0
    duration_seconds: float = 0.0
    error: str | None = None
    resume_at: datetime | None = None
    refused: bool = False
    """The rep token was refused: a person must fix it (the daemon pauses this discovery)."""

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, slots=True)
class DiscoverOptions:
    owner: str
    lease_ttl_seconds: float = 30.0
    stop: threading.Event | None = None
    search: bool = True
    """False: only route the ids queued for the endpoint (a run woken by webhooks between two
    searches; its run is logged as mode ``inbox`` and does not count as a complete discovery)."""


def discover(
    discovery: Discovery, store: StateStore, clock: Clock, options: DiscoverOptions
) -> DiscoveryReport:
    """Pull every group of ``discovery`` once and route what changed; never raises for a
    connector failure (the report carries it)."""
    report = DiscoveryReport(discovery.endpoint)
    lease = lease_name(discovery.endpoint)
    started, calls = clock.monotonic(), discovery.connector.api_calls()
    if not store.try_lease(lease, options.owner, clock.now(), options.lease_ttl_seconds):
        report.ran = False
        log.info("discovery_busy", endpoint=discovery.endpoint, detail="another process runs it")
        return report
    run_id = uuid.uuid4().hex[:12]
    mode = "discover" if options.search else INBOX_MODE
    store.start_run(RunRecord(run_id, lease, mode, clock.now()))
    try:
        runner = _Runner(discovery, store, clock, options, report)
        for group in discovery.groups if options.search else ():
            runner.pull(group)
        runner.route_endpoint_inbox()
    except DailyLimitReached as exc:
        report.error, report.resume_at = str(exc), exc.resets_at
    except AuthError as exc:
        report.error, report.refused = str(exc), True
    except (ConnectorError, ConfigError, Interrupted, LeaseLost) as exc:
        report.error = str(exc)
    finally:
        report.api_calls = discovery.connector.api_calls() - calls
        counts = {"pulled.rep": report.pulled, "queued": sum(report.routed.values()),
                  "unrouted": report.unrouted, "echoes": report.seen,
                  "api_calls": report.api_calls}  # fmt: skip
        try:
            outcome = "failed" if report.failed else "ok"
            store.finish_run(run_id, clock.now(), outcome, counts, report.error)
        finally:
            store.release_lease(lease, options.owner)
    report.duration_seconds = clock.monotonic() - started
    _log(report)
    return report


@dataclass(slots=True)
class _Runner:
    discovery: Discovery
    store: StateStore
    clock: Clock
    options: DiscoverOptions
    report: DiscoveryReport

    def pull(self, group: Group) -> None:
        members = self.store.get_cursors(group.pairs, Side.REP)
        group_at = self.store.get_cursor(group.key, Side.REP)
        since = start_cursor(group_at, members.values(), self.clock.now())
        pages = self.discovery.connector.changes(since, group.scope, group.properties)
        shapes = self.discovery.connector.property_definitions()
        for page in pages:
            self._stop_if_asked()
            routed = route_page(
                [group], page.records, shapes, now=self.clock.now(), source="discovery"
            )
            self._drop_seen([group], routed, page.records)
            marks = cursor_marks(group, members, page.cursor)
            self.store.enqueue(routed.entries, cursors=marks)
            self._count(len(page.records), routed.entries, routed.unrouted)
            self._renew()

    def route_endpoint_inbox(self) -> None:
        """Ids queued for the endpoint itself (webhooks): read live, routed, drained together."""
        key = endpoint_key(self.discovery.endpoint)
        shapes = self.discovery.connector.property_definitions()
        properties = tuple(dict.fromkeys(p for g in self.discovery.groups for p in g.properties))
        done: set[str] = set()
        while entries := self.store.inbox(key, Side.REP, ENDPOINT_BATCH):
            # An id queued again while this run reads it waits for the next run: a stream of
            # webhooks for one deal cannot keep this one going.
            waiting = [e for e in entries if e.record_id not in done]
            if not waiting:
                return
            done.update(e.record_id for e in waiting)
            self._stop_if_asked()
            found = self.discovery.connector.read([e.record_id for e in waiting], properties)
            records = list(found.found.values())
            routed = route_page(
                self.discovery.groups, records, shapes, now=self.clock.now(), source="webhook"
            )
            self._drop_seen(self.discovery.groups, routed, records)
            self.store.enqueue(routed.entries, drained=taken_from_endpoint(waiting))
            self._count(len(records), routed.entries, routed.unrouted + len(found.missing))
            self._renew()

    def _drop_seen(
        self, groups: Sequence[Group], routed: Routed, records: Sequence[DealRecord]
    ) -> None:
        """Leave out deals whose pair last saw these very mapped values: the worker's own
        writes coming back (and a window re-pulled for index lag) cost no live read."""
        by_id = {r.id: r for r in records}
        mappings = {p: m for g in groups for p, m in g.route.mappings.items()}
        by_pair: dict[str, list[InboxEntry]] = {}
        for entry in routed.entries:
            by_pair.setdefault(entry.key, []).append(entry)
        kept: list[InboxEntry] = []
        for pair, entries in by_pair.items():
            links = self.store.links_by_ids(pair, Side.REP, [e.record_id for e in entries])
            for entry in entries:
                link = links.get(entry.record_id)
                if link is not None and settled(by_id[entry.record_id], link, mappings[pair]):
                    routed.seen += 1
                else:
                    kept.append(entry)
        routed.entries = kept
        self.report.seen += routed.seen

    def _count(self, pulled: int, entries: Sequence[InboxEntry], unrouted: int) -> None:
        self.report.pulled += pulled
        self.report.unrouted += unrouted
        for entry in entries:
            self.report.routed[entry.key] = self.report.routed.get(entry.key, 0) + 1

    def _renew(self) -> None:
        lease = lease_name(self.discovery.endpoint)
        now = self.clock.now()
        if not self.store.try_lease(lease, self.options.owner, now, self.options.lease_ttl_seconds):
            raise LeaseLost(lease)

    def _stop_if_asked(self) -> None:
        if self.options.stop is not None and self.options.stop.is_set():
            raise Interrupted("stopping: discovery resumes from its last committed page")


def _log(report: DiscoveryReport) -> None:
    fields: Mapping[str, object] = {
        "endpoint": report.endpoint,
        "pulled": report.pulled,
        "pairs": len(report.routed),
        "queued": sum(report.routed.values()),
        "unrouted": report.unrouted,
        "echoes": report.seen,
        "api_calls": report.api_calls,
        "duration_ms": round(report.duration_seconds * 1000),
    }
    if report.failed:
        log.error("discovery_failed", error=report.error, **fields)
    else:
        log.info("discovery_finished", **fields)
