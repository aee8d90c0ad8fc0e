"""End to end over loopback: the sandbox's signed deliveries pass the daemon's real validator,
and each changed deal reaches its inboxes once per event, duplicates and retries included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from hubspot_sandbox import Sandbox, SandboxServer, WebhookSpec, demo_portals
from sync_worker.kernel.clock import FakeClock
from tests.webhooks.conftest import NOW, REP_SECRET, SECRET, Daemon, ServeFor


def fast(target_url: str, secret: str) -> WebhookSpec:
    """HubSpot's delivery with its 24 hours of retries compressed to a second."""
    return WebhookSpec(target_url, secret, time_scale=1e-5, batch_window_seconds=0.02)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[Sandbox]:
    portals = [replace(spec, tier="unlimited") for spec in demo_portals()]
    the_sandbox = Sandbox(portals, clock=clock)
    yield the_sandbox
    the_sandbox.close()


@pytest.fixture
def wired(serve: ServeFor, sandbox: Sandbox, clock: FakeClock) -> Daemon:
    """Both portals deliver to the daemon: partner signs with SECRET, rep with REP_SECRET."""
    daemon = serve(clock=clock)
    for name, secret in (("partner", SECRET), ("rep", REP_SECRET)):
        url = f"{daemon.url}/webhooks/hubspot/{name}"
        sandbox.portal(name).configure_webhooks(fast(url, secret))
    return daemon


def settle(sandbox: Sandbox) -> None:
    for portal in sandbox.portals:
        assert portal.webhooks is not None
        assert portal.webhooks.flush(timeout=20.0)


def test_ui_edits_on_both_sides_reach_their_inboxes(sandbox: Sandbox, wired: Daemon) -> None:
    partner, rep = sandbox.portal("partner"), sandbox.portal("rep")
    partner_deal = partner.create_deal({"dealname": "Acme"})
    rep_deal = rep.create_deal({"dealname": "Acme"})
    settle(sandbox)
    wired.recorder.entries.clear()

    partner.edit_deal(partner_deal, {"amount": "1500"})
    rep.edit_deal(rep_deal, {"closedate": "2027-01-31T00:00:00.000Z"})
    settle(sandbox)

    assert sorted(set(wired.recorder.ids())) == [
        ("agency-001", "partner", partner_deal),
        ("endpoint:rep", "rep", rep_deal),
    ]
    for portal in (partner, rep):
        assert portal.webhooks is not None
        assert set(portal.webhooks.stats.requests) == {"204"}  # every request passed


def test_duplicated_events_are_queued_once(sandbox: Sandbox, wired: Daemon) -> None:
    partner = sandbox.portal("partner")
    spec = partner.webhooks.spec if partner.webhooks else None
    assert spec is not None
    partner.configure_webhooks(replace(spec, duplicate_rate=1.0))

    deal_id = partner.create_deal({"dealname": "Acme", "amount": "10"})
    settle(sandbox)

    events = partner.webhooks.stats.events if partner.webhooks else 0
    assert events > 1  # creation, and a property change per property set
    # one entry for the deal (its events coalesce), none for the copies
    assert wired.recorder.ids() == [("agency-001", "partner", deal_id)]
    text = wired.metrics.render().decode()
    for outcome in ("queued", "duplicate"):
        counted = f'sync_webhook_events_total{{endpoint="partner",outcome="{outcome}"}} {events}.0'
        assert counted in text


def test_a_refused_delivery_is_retried_by_the_sandbox_until_it_passes(
    sandbox: Sandbox, wired: Daemon
) -> None:
    partner = sandbox.portal("partner")
    deal_id = partner.create_deal({"dealname": "Acme"})
    settle(sandbox)
    wired.recorder.entries.clear()
    down = OperationalError("INSERT", {}, Exception("could not connect"))
    wired.recorder.fail = down  # the store is down: the route answers 503

    partner.edit_deal(deal_id, {"amount": "1"})
    assert partner.webhooks is not None
    for _ in range(400):
        if partner.webhooks.stats.requests.get("503"):
            break
        partner.webhooks.flush(timeout=0.05)
    wired.recorder.fail = None
    settle(sandbox)

    assert wired.recorder.ids() == [("agency-001", "partner", deal_id)]
    assert partner.webhooks.stats.requests["503"] >= 1


def test_the_apps_own_api_writes_come_back_through_the_route(
    sandbox: Sandbox, wired: Daemon, server: SandboxServer
) -> None:
    partner = sandbox.portal("partner")
    deal_id = partner.create_deal({"dealname": "Acme"})
    settle(sandbox)
    wired.recorder.entries.clear()
    server.use(sandbox)
    token = partner.spec.token

    answer = httpx.patch(
        f"{server.base_url('partner')}/crm/v3/objects/deals/{deal_id}",
        json={"properties": {"amount": "42"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    settle(sandbox)

    assert answer.status_code == 200
    assert wired.recorder.ids() == [("agency-001", "partner", deal_id)]


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    with SandboxServer(sandbox) as running:
        yield running
