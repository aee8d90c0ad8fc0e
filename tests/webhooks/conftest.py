"""The daemon's HTTP app with the webhook route, served over loopback: a real SQLite ledger, a
recording sink and wake, and a fake clock the signatures are made against."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from sync_worker.kernel.clock import FakeClock, to_epoch_ms
from sync_worker.runtime.config import PairSettings
from sync_worker.service.http import ThreadedServer
from sync_worker.service.metrics import Health, Metrics, build_app
from sync_worker.service.webhooks import WebhookEndpoint, WebhookReceiver
from sync_worker.service.webhooks.routing import endpoint_roles
from sync_worker.service.webhooks.signature import v3_signature
from sync_worker.state import open_store
from sync_worker.state.base import InboxEntry
from sync_worker.state.webhook_ledger import SqlWebhookLedger

SECRET = "wh-secret-7f3a9c2e-1b4d-4e8f-a6c5-0d9e8f7a6b5c"
REP_SECRET = "wh-secret-rep-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MAX_BODY = 4096
PAIRS = {
    "agency-001": PairSettings(partner="partner", rep="rep", partner_account="agency-001"),
    "agency-002": PairSettings(partner="partner-2", rep="rep", partner_account="agency-002"),
}


@dataclass
class Recorder:
    """The sink and wake the route is given: what was stored, and which keys were woken."""

    entries: list[InboxEntry] = field(default_factory=list)
    woken: list[list[str]] = field(default_factory=list)
    fail: Exception | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sink(self, entries: Sequence[InboxEntry]) -> None:
        if self.fail is not None:
            raise self.fail
        with self._lock:
            self.entries.extend(entries)

    def wake(self, keys: Any) -> None:
        with self._lock:
            self.woken.append(list(keys))

    def ids(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [(e.key, e.side.value, e.record_id) for e in self.entries]


@dataclass
class Daemon:
    """The served app: ``url``, and what the route handed on."""

    url: str
    recorder: Recorder
    metrics: Metrics
    clock: FakeClock
    ledger: SqlWebhookLedger

    def post(
        self,
        endpoint: str,
        body: bytes,
        *,
        secret: str = SECRET,
        timestamp: datetime | None = None,
        uri: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``body`` to the endpoint's route, signed as HubSpot signs it (over ``uri``,
        by default the URL called) unless ``headers`` replace the signature headers."""
        url = f"{self.url}/webhooks/hubspot/{endpoint}"
        stamp = str(to_epoch_ms(timestamp or self.clock.now()))
        signed = v3_signature(SecretStr(secret), "POST", uri or url, body, stamp)
        sent = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signed,
            "X-HubSpot-Request-Timestamp": stamp,
            **(headers or {}),
        }
        return httpx.post(url, content=body, headers=sent, timeout=10.0)


def events(*items: dict[str, Any]) -> bytes:
    return json.dumps(list(items)).encode()


def change(event_id: int, deal_id: int, kind: str = "deal.propertyChange") -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1001,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": to_epoch_ms(NOW),
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": deal_id,
        "propertyName": "amount",
        "propertyValue": "1500",
        "changeSource": "CRM_UI",
    }


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqlWebhookLedger]:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield SqlWebhookLedger(store.engine)
    store.close()


ServeFor = Callable[..., Daemon]


@pytest.fixture
def serve(ledger: SqlWebhookLedger) -> Iterator[ServeFor]:
    """``serve(public_url=..., endpoints=...)``: the daemon app on a free loopback port."""
    servers: list[ThreadedServer] = []

    def start(
        *,
        endpoints: dict[str, WebhookEndpoint] | None = None,
        public_url: str | None = None,
        recorder: Recorder | None = None,
        clock: FakeClock | None = None,
    ) -> Daemon:
        the_clock = clock or FakeClock(NOW)
        the_recorder = recorder or Recorder()
        metrics = Metrics()
        receiver = WebhookReceiver(
            default_endpoints() if endpoints is None else endpoints,
            ledger=ledger,
            sink=the_recorder.sink,
            wake=the_recorder.wake,
            clock=the_clock,
            counters=metrics.webhooks,
            public_url=public_url,
            max_body_bytes=MAX_BODY,
        )
        app = build_app(metrics, Health(threshold=3), receiver.routes())
        server = ThreadedServer(app, port=0, name="webhooks-test").start()
        servers.append(server)
        return Daemon(server.url, the_recorder, metrics, the_clock, ledger)

    yield start
    for server in servers:
        server.stop()


def default_endpoints() -> dict[str, WebhookEndpoint]:
    """``partner`` (partner of agency-001) and ``rep`` (rep of both pairs) have secrets;
    ``partner-2`` has none, so its route is off."""
    roles = endpoint_roles(PAIRS)
    return {
        "partner": WebhookEndpoint("partner", SecretStr(SECRET), roles["partner"]),
        "rep": WebhookEndpoint("rep", SecretStr(REP_SECRET), roles["rep"]),
    }


@pytest.fixture
def daemon(serve: ServeFor) -> Daemon:
    return serve()
