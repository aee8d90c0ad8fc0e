"""Seeded fault injection: server errors, extra 429s, slow and malformed responses."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from hubspot_sandbox import FaultSpec, Sandbox, SandboxServer
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import DEALS, create, new_deal, specs


def statuses(seed: int, count: int) -> list[int]:
    sandbox = Sandbox(specs(), seed=seed, clock=FakeClock())
    sandbox.portal("partner").set_faults(FaultSpec(error_rate=0.3, rate_limit_rate=0.2))
    with (
        SandboxServer(sandbox) as server,
        httpx.Client(
            base_url=server.base_url("partner"),
            headers={"Authorization": "Bearer demo-partner-token"},
        ) as client,
    ):
        return [client.get(DEALS).status_code for _ in range(count)]


def test_faults_are_reproducible_for_a_seed() -> None:
    first, again, other = statuses(7, 40), statuses(7, 40), statuses(8, 40)
    assert first == again
    assert first != other
    assert {500, 502, 503, 504} & set(first)
    assert 429 in first
    assert 200 in first


def test_server_errors_have_a_hubspot_like_body_and_write_nothing(
    partner: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.portal("partner").set_faults(FaultSpec(error_rate=1.0))
    response = partner.post(DEALS, json={"properties": {"dealname": "x"}})
    assert response.status_code in (500, 502, 503, 504)
    assert response.json()["status"] == "error"
    assert response.json()["correlationId"]
    assert sandbox.portal("partner").deals() == []


def test_errors_after_write_land_the_write(partner: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.portal("partner").set_faults(FaultSpec(error_rate=1.0, errors_after_write=True))
    response = partner.post(DEALS, json={"properties": new_deal(dealname="x")})
    assert response.status_code >= 500
    assert [d["dealname"] for d in sandbox.portal("partner").deals()] == ["x"]


def test_injected_429_looks_like_the_ten_second_limit(
    partner: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.portal("partner").set_faults(FaultSpec(rate_limit_rate=1.0))
    response = partner.get(DEALS)
    assert response.status_code == 429
    assert response.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    search = partner.post(f"{DEALS}/search", json={})
    assert search.json()["policyName"] == "SECONDLY"


def test_malformed_bodies_are_truncated_200s(partner: httpx.Client, sandbox: Sandbox) -> None:
    create(partner)
    sandbox.portal("partner").set_faults(FaultSpec(malformed_rate=1.0))
    response = partner.get(DEALS)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_slow_responses_add_latency(partner: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.portal("partner").set_faults(FaultSpec(slow_rate=1.0, slow_seconds=0.2))
    started = time.perf_counter()
    assert partner.get(DEALS).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_faults_can_target_endpoints(partner: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.portal("partner").set_faults(FaultSpec(error_rate=1.0, endpoints=frozenset({"search"})))
    assert partner.get(DEALS).status_code == 200
    assert partner.post(f"{DEALS}/search", json={}).status_code >= 500


def test_fault_counts_show_in_counters(partner: httpx.Client, sandbox: Sandbox) -> None:
    portal = sandbox.portal("partner")
    portal.set_faults(FaultSpec(rate_limit_rate=1.0))
    partner.get(DEALS)
    portal.set_faults(FaultSpec())
    partner.get(DEALS)
    assert portal.counters == {"list": {429: 1, 200: 1}}
    assert portal.total_requests == 2
    portal.reset_counters()
    assert portal.counters == {}


def test_fault_spec_validates_rates_and_json() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        FaultSpec(error_rate=1.5)
    with pytest.raises(ValueError, match="unknown fault settings"):
        FaultSpec.from_json({"eror_rate": 0.1})
    spec = FaultSpec.from_json({"slow_rate": 0.5, "endpoints": ["search"]})
    assert spec.endpoints == frozenset({"search"})
    assert FaultSpec.from_json(spec.to_json()) == spec
