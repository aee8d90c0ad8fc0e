"""The sandbox delivers webhooks like HubSpot: arrays of events, signed v3, batched, retried on
a failure or a slow answer, unordered, duplicated when asked, for UI edits and API writes alike,
never in the way of an API request."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hubspot_sandbox import Sandbox, SandboxServer, WebhookSpec, sign_v3
from sync_worker.kernel.clock import FakeClock
from sync_worker.service.http import ThreadedServer
from sync_worker.service.webhooks.signature import SignedRequest, check
from tests.sandbox.conftest import DEALS

SECRET = "sandbox-app-secret-5e6f7a8b"


def fast(target_url: str, secret: str) -> WebhookSpec:
    """HubSpot's delivery with its 24 hours of retries compressed to a second."""
    return WebhookSpec(target_url, secret, time_scale=1e-5, batch_window_seconds=0.02)


@dataclass
class Received:
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = json.loads(self.body)
        return events


@dataclass
class Hook:
    """A webhook target: records requests; answers ``statuses`` in turn (then 204), waits
    ``delays`` in turn, or holds every request until ``gate`` opens."""

    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    gate: threading.Event | None = None
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.received.append(Received(str(request.url), dict(request.headers), body))
            status = self.statuses.pop(0) if self.statuses else 204
            delay = self.delays.pop(0) if self.delays else 0.0
        if self.gate is not None:
            await run_in_threadpool(self.gate.wait, 10.0)
        await asyncio.sleep(delay)
        return Response(status_code=status)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for request in self.received for event in request.events]


@pytest.fixture
def hook() -> Iterator[Hook]:
    target = Hook()
    app = Starlette(routes=[Route("/hooks/{name}", target.endpoint, methods=["POST"])])
    with ThreadedServer(app, name="hook") as server:
        target.url = f"{server.url}/hooks/partner"
        yield target


@pytest.fixture
def portal_hooks(sandbox: Sandbox, hook: Hook) -> Iterator[WebhookSpec]:
    spec = fast(hook.url, SECRET)
    yield spec
    sandbox.close()


def deliver(sandbox: Sandbox, spec: WebhookSpec, **changes: Any) -> None:
    sandbox.portal("partner").configure_webhooks(replace(spec, **changes))


def flushed(sandbox: Sandbox) -> None:
    delivery = sandbox.portal("partner").webhooks
    assert delivery is not None
    assert delivery.flush(timeout=20.0)


def test_a_ui_edit_arrives_as_a_signed_array_of_events(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec, clock: FakeClock
) -> None:
    portal = sandbox.portal("partner")
    deal_id = portal.create_deal({"dealname": "Acme"})
    deliver(sandbox, portal_hooks)

    portal.edit_deal(deal_id, {"amount": "1500"})
    flushed(sandbox)

    (request,) = hook.received
    (event,) = request.events
    assert event["subscriptionType"] == "deal.propertyChange"
    assert event["objectId"] == int(deal_id)
    assert (event["propertyName"], event["propertyValue"]) == ("amount", "1500")
    assert event["changeSource"] == "CRM_UI"
    assert event["attemptNumber"] == 0
    assert event["portalId"] == portal.hub_id
    assert isinstance(event["eventId"], int)
    assert event["occurredAt"] == int(clock.now().timestamp() * 1000)
    stamp = request.headers["x-hubspot-request-timestamp"]
    signature = request.headers["x-hubspot-signature-v3"]
    assert signature == sign_v3(SECRET, "POST", hook.url, request.body, stamp)
    # ... and the worker's own validator agrees
    signed = SignedRequest("POST", request.url, request.body, signature, stamp)
    assert check(signed, SecretStr(SECRET), clock.now()) is None


def test_creation_deletion_restore_and_merge_each_send_their_event(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec
) -> None:
    portal = sandbox.portal("partner")
    keep = portal.create_deal({"dealname": "Keep"})
    deliver(sandbox, portal_hooks, properties=frozenset({"amount"}))

    created = portal.create_deal({"dealname": "New", "amount": "10"})
    portal.archive_deal(created)
    portal.restore_deal(created)
    portal.merge_deals(keep, created)
    flushed(sandbox)

    kinds = sorted((e["subscriptionType"], e["objectId"]) for e in hook.events())
    assert kinds == sorted(
        [
            ("deal.creation", int(created)),
            ("deal.propertyChange", int(created)),  # amount set at creation
            ("deal.deletion", int(created)),
            ("deal.restore", int(created)),
            ("deal.merge", int(keep)),
            ("deal.propertyChange", int(keep)),  # amount moved over by the merge
        ]
    )
    (merge,) = [e for e in hook.events() if e["subscriptionType"] == "deal.merge"]
    assert merge["primaryObjectId"] == int(keep)
    assert merge["mergedObjectIds"] == [int(created)]
    assert merge["newObjectId"] == int(keep)
    assert merge["numberOfPropertiesMoved"] == 1
    assert portal.get_deal(created) is None
    assert portal.get_deal(keep) is not None
    assert (portal.get_deal(keep) or {})["amount"] == "10"


def test_the_apps_own_api_writes_come_back_as_events(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec, partner: httpx.Client
) -> None:
    deal_id = sandbox.portal("partner").create_deal({"dealname": "Acme"})
    deliver(sandbox, portal_hooks)

    answer = partner.patch(f"{DEALS}/{deal_id}", json={"properties": {"amount": "99"}})
    flushed(sandbox)

    assert answer.status_code == 200
    (event,) = hook.events()
    assert (event["propertyName"], event["changeSource"]) == ("amount", "API")


def test_a_burst_is_batched_and_every_event_arrives_once(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec
) -> None:
    portal = sandbox.portal("partner")
    ids = [portal.create_deal({"dealname": f"D{i}"}) for i in range(250)]
    deliver(sandbox, portal_hooks, batch_window_seconds=0.2)

    for deal_id in ids:
        portal.edit_deal(deal_id, {"amount": "5"})
    flushed(sandbox)

    events = hook.events()
    assert sorted(e["objectId"] for e in events) == sorted(int(i) for i in ids)
    assert len({e["eventId"] for e in events}) == 250
    assert all(len(request.events) <= 100 for request in hook.received)
    assert len(hook.received) < 250


def test_events_leave_in_no_particular_order(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec
) -> None:
    portal = sandbox.portal("partner")
    deal_id = portal.create_deal({"dealname": "Acme"})
    deliver(sandbox, portal_hooks, batch_window_seconds=0.2)

    for amount in range(50):
        portal.edit_deal(deal_id, {"amount": str(amount)})
    flushed(sandbox)

    ids = [e["eventId"] for e in hook.events()]
    assert sorted(ids) == sorted(set(ids))
    assert ids != sorted(ids)


def test_a_failed_delivery_is_retried_with_the_next_attempt_number(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec
) -> None:
    portal = sandbox.portal("partner")
    deal_id = portal.create_deal({"dealname": "Acme"})
    deliver(sandbox, portal_hooks)
    hook.statuses = [500, 429]

    portal.edit_deal(deal_id, {"amount": "7"})
    flushed(sandbox)

    attempts = [(e["eventId"], e["attemptNumber"]) for e in hook.events()]
    assert [n for _, n in attempts] == [0, 1, 2]
    assert len({i for i, _ in attempts}) == 1
    signatures = {r.headers["x-hubspot-signature-v3"] for r in hook.received}
    assert len(signatures) == 3  # each attempt is signed anew
    stats = portal.webhooks.stats if portal.webhooks else None
    assert stats is not None
    assert stats.requests == {"500": 1, "429": 1, "204": 1}


def test_a_slow_answer_counts_as_failed_and_the_events_come_again(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec
) -> None:
    portal = sandbox.portal("partner")
    deal_id = portal.create_deal({"dealname": "Acme"})
    deliver(sandbox, portal_hooks, timeout_seconds=0.2)
    hook.delays = [1.0]

    portal.edit_deal(deal_id, {"amount": "7"})
    flushed(sandbox)

    assert [e["attemptNumber"] for e in hook.events()] == [0, 1]
    assert portal.webhooks is not None
    assert portal.webhooks.stats.requests["timeout"] == 1


def test_events_are_lost_after_the_last_attempt(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec
) -> None:
    portal = sandbox.portal("partner")
    deal_id = portal.create_deal({"dealname": "Acme"})
    deliver(sandbox, portal_hooks, max_attempts=3)
    hook.statuses = [503] * 10

    portal.edit_deal(deal_id, {"amount": "7"})
    flushed(sandbox)

    assert len(hook.received) == 3
    assert portal.webhooks is not None
    assert portal.webhooks.stats.lost == 1


def test_duplicates_when_asked(sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec) -> None:
    portal = sandbox.portal("partner")
    deal_id = portal.create_deal({"dealname": "Acme"})
    deliver(sandbox, portal_hooks, duplicate_rate=1.0)

    portal.edit_deal(deal_id, {"amount": "7"})
    flushed(sandbox)

    first, second = hook.received
    assert first.events == second.events  # the same event, in a later request


def test_subscriptions_choose_the_events_and_properties(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec
) -> None:
    portal = sandbox.portal("partner")
    deliver(sandbox, portal_hooks, events=frozenset({"propertyChange"}), properties=None)

    deal_id = portal.create_deal({"dealname": "Acme"})
    portal.register_deal(deal_id)
    portal.archive_deal(deal_id)
    flushed(sandbox)

    changed = {e["propertyName"]: e["propertyValue"] for e in hook.events()}
    assert {"dealname", "dealstage", "pipeline", "createdate"} <= set(changed)
    assert changed["hs_num_associated_active_deal_registrations"] == "1"
    assert all(e["subscriptionType"] == "deal.propertyChange" for e in hook.events())


def test_delivery_never_holds_up_the_api(
    sandbox: Sandbox, hook: Hook, portal_hooks: WebhookSpec, partner: httpx.Client
) -> None:
    deal_id = sandbox.portal("partner").create_deal({"dealname": "Acme"})
    deliver(sandbox, portal_hooks, max_concurrent=1)
    hook.gate = threading.Event()

    answers = [
        partner.patch(f"{DEALS}/{deal_id}", json={"properties": {"amount": str(n)}}, timeout=5.0)
        for n in range(30)
    ]  # the target holds every delivery meanwhile
    hook.gate.set()
    flushed(sandbox)

    assert {a.status_code for a in answers} == {200}
    assert len(hook.events()) == 30


def test_the_admin_api_configures_deliveries_and_never_shows_the_secret(
    server: SandboxServer, sandbox: Sandbox, hook: Hook
) -> None:
    admin = f"{server.base_url('partner')}/__sandbox"
    body = {"target_url": hook.url, "client_secret": SECRET, "time_scale": 1e-5}
    configured = httpx.post(f"{admin}/webhooks", json=body)
    try:
        deal = httpx.post(f"{admin}/deals", json={"properties": {"dealname": "Acme"}}).json()
        flushed(sandbox)
        shown = httpx.get(f"{admin}/webhooks")
        refused = httpx.post(f"{admin}/webhooks", json={**body, "colour": "red"})
    finally:
        stopped = httpx.delete(f"{admin}/webhooks")

    assert configured.status_code == 200
    assert shown.json()["target_url"] == hook.url
    assert shown.json()["stats"]["delivered"] >= 1
    assert SECRET not in configured.text + shown.text
    assert refused.status_code == 400
    assert stopped.status_code == 204
    assert sandbox.portal("partner").webhooks is None
    assert {e["objectId"] for e in hook.events()} == {int(deal["id"])}
