"""Many portals in one sandbox (a benchmark runs 1,000 partner portals), simulated response
time, and a tier switched at run time. Work is counted (portals built), never timed."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest

from hubspot_sandbox import PortalSpec, Sandbox, SandboxServer
from hubspot_sandbox.latency import Latency
from hubspot_sandbox.server import describe
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import DEALS, new_deal, specs

PORTALS = 1_000


def partner_specs(count: int) -> list[PortalSpec]:
    partner, rep = specs()
    return [rep] + [
        replace(partner, name=f"partner-{i:04d}", token=f"token-{i:04d}") for i in range(count)
    ]


def client(server: SandboxServer, name: str, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server.base_url(name), headers=headers)


def test_a_thousand_portals_build_only_the_ones_used() -> None:
    sandbox = Sandbox(partner_specs(PORTALS), clock=FakeClock())
    assert len(sandbox.specs) == PORTALS + 1
    assert sandbox.built_portals == []
    assert len(describe(sandbox, "http://x")) == PORTALS + 1  # listing builds nothing
    with SandboxServer(sandbox) as server:
        assert sandbox.built_portals == []
        used = ("partner-0000", "partner-0500", "partner-0999")
        created = {}
        for name in used:
            with client(server, name, f"token-{name[-4:]}") as api:
                response = api.post(DEALS, json={"properties": new_deal(dealname=name)})
                assert response.status_code == 201, response.text
                created[name] = response.json()["id"]
                found = api.post(f"{DEALS}/search", json={"properties": ["dealname"]}).json()
                assert [d["properties"]["dealname"] for d in found["results"]] == [name]
        with client(server, "partner-0001", "token-0500") as wrong:
            assert wrong.get(DEALS).status_code == 401  # each portal keeps its own token
        assert httpx.get(f"{server.url}/partner-9999{DEALS}").status_code == 404
    built = {p.name: p for p in sandbox.built_portals}
    assert sorted(built) == sorted([*used, "partner-0001"])  # 4 of 1,001 built
    for name in used:
        assert built[name].counters == {"create": {201: 1}, "search": {200: 1}}
        assert [d["hs_object_id"] for d in built[name].deals()] == [created[name]]
    # Deal ids follow the portal's position, not the order portals were built in.
    ids = [int(created[name]) for name in used]
    assert ids == [2 * 10**10 + 1, 502 * 10**10 + 1, 1001 * 10**10 + 1]


def test_equal_definitions_are_shared_and_owners_stay_each_portals_own() -> None:
    sandbox = Sandbox(partner_specs(3), clock=FakeClock())
    first, second = sandbox.portal("partner-0000"), sandbox.portal("partner-0001")
    assert first.book.defs is second.book.defs
    assert first.book.pipelines is second.book.pipelines
    with pytest.raises(TypeError):
        first.book.defs["x"] = first.book.defs["dealname"]  # type: ignore[index]
    owner = first.owners[0].id
    first.deactivate_owner(owner)
    assert second.create_deal({"dealname": "d", "hubspot_owner_id": owner})
    assert owner not in first.book.owner_ids


def test_a_bad_spec_still_fails_when_the_sandbox_is_made() -> None:
    with pytest.raises(ValueError, match="unknown tier"):
        Sandbox([PortalSpec("a", "t", tier="gold")])
    with pytest.raises(ValueError, match="pipeline"):
        Sandbox([PortalSpec("a", "t", pipelines=())])
    with pytest.raises(ValueError, match="latency"):
        Sandbox([PortalSpec("a", "t", latency_seconds=(0.3, 0.1))])


def test_latency_delays_each_answer_within_its_range(
    server: SandboxServer, sandbox: Sandbox, partner: httpx.Client
) -> None:
    portal = sandbox.portal("partner")
    assert portal.latency.draw() == 0.0  # the default adds nothing
    admin = server.base_url("partner") + "/__sandbox/latency"
    body = {"min_seconds": 0.05, "max_seconds": 0.06}
    assert httpx.post(admin, json=body).json() == body
    assert httpx.get(admin).json() == body
    started = time.perf_counter()
    assert partner.get(DEALS).status_code == 200
    assert time.perf_counter() - started >= 0.05
    assert httpx.post(admin, json={"min_seconds": 1, "max_seconds": 0}).status_code == 400
    portal.set_latency(0.0, 0.0)
    assert portal.latency.draw() == 0.0


def test_latency_draws_are_seeded_and_in_range() -> None:
    draws = [Latency("0/rep/latency", 0.1, 0.3) for _ in range(2)]
    first, again = ([latency.draw() for _ in range(50)] for latency in draws)
    assert first == again
    assert all(0.1 <= d <= 0.3 for d in first)
    assert len(set(first)) > 1


def test_the_tier_can_change_at_run_time(
    server: SandboxServer, sandbox: Sandbox, partner: httpx.Client
) -> None:
    assert "X-HubSpot-RateLimit-Max" not in partner.get(DEALS).headers  # unlimited
    tier = server.base_url("partner") + "/__sandbox/tier"
    assert httpx.post(tier, json={"tier": "professional"}).json() == {"tier": "professional"}
    assert partner.get(DEALS).headers["X-HubSpot-RateLimit-Max"] == "190"
    assert [s.tier for s in sandbox.specs] == ["professional", "unlimited"]  # partner, rep
    assert httpx.post(tier, json={"tier": "gold"}).status_code == 400
    sandbox.portal("partner").set_tier("unlimited")
    assert "X-HubSpot-RateLimit-Max" not in partner.get(DEALS).headers
    assert sandbox.portal("partner").spec.tier == "unlimited"
