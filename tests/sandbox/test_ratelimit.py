"""Rate limits: 10-second window, daily count, search's own secondly limit, headers, bodies."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from hubspot_sandbox import Sandbox, SandboxServer
from hubspot_sandbox.spec import PortalSpec
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import DEALS, specs

SEARCH = f"{DEALS}/search"


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[tuple[httpx.Client, Sandbox]]:
    sandbox = Sandbox(specs(tier="free", ten_second_limit=3, daily_limit=8), clock=clock)
    with (
        SandboxServer(sandbox) as server,
        httpx.Client(
            base_url=server.base_url("partner"),
            headers={"Authorization": "Bearer demo-partner-token"},
        ) as client,
    ):
        yield client, sandbox


def test_headers_count_down_the_window_and_the_day(limited: tuple[httpx.Client, Sandbox]) -> None:
    client, _ = limited
    first = client.get(DEALS).headers
    assert first["X-HubSpot-RateLimit-Max"] == "3"
    assert first["X-HubSpot-RateLimit-Remaining"] == "2"
    assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert first["X-HubSpot-RateLimit-Daily"] == "8"
    assert first["X-HubSpot-RateLimit-Daily-Remaining"] == "7"
    assert client.get(DEALS).headers["X-HubSpot-RateLimit-Remaining"] == "1"


def test_ten_second_window_refuses_then_rolls(
    limited: tuple[httpx.Client, Sandbox], clock: FakeClock
) -> None:
    client, sandbox = limited
    assert [client.get(DEALS).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(DEALS)
    assert refused.status_code == 429
    body = refused.json()
    assert body["status"] == "error"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["correlationId"]
    assert refused.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    clock.advance(9.9)
    assert client.get(DEALS).status_code == 429
    clock.advance(0.2)
    assert client.get(DEALS).status_code == 200
    assert sandbox.portal("partner").counters == {"list": {200: 4, 429: 2}}


def test_daily_limit_counts_search_too_and_resets_at_midnight_utc(
    limited: tuple[httpx.Client, Sandbox], clock: FakeClock
) -> None:
    client, _ = limited
    for _ in range(4):
        assert client.post(SEARCH, json={}).status_code == 200
        clock.advance(1)
    for _ in range(4):
        assert client.get(DEALS).status_code == 200
        clock.advance(11)
    refused = client.get(DEALS)
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "DAILY"
    assert refused.json()["message"] == "You have reached your daily limit."
    assert client.post(SEARCH, json={}).json()["policyName"] == "DAILY"
    clock.advance(24 * 3600)
    assert client.get(DEALS).status_code == 200


def test_search_has_its_own_secondly_limit_and_no_rate_headers(
    limited: tuple[httpx.Client, Sandbox], clock: FakeClock
) -> None:
    client, _ = limited
    results = [client.post(SEARCH, json={}) for _ in range(6)]
    assert [r.status_code for r in results] == [200] * 5 + [429]
    assert results[5].json()["policyName"] == "SECONDLY"
    assert results[5].json()["message"] == "You have reached your secondly limit."
    assert not [h for h in results[0].headers if h.lower().startswith("x-hubspot-ratelimit")]
    assert results[0].headers["X-HubSpot-Correlation-Id"]
    assert client.get(DEALS).status_code == 200  # search is exempt from the 10-second window
    clock.advance(1.0)
    assert client.post(SEARCH, json={}).status_code == 200


def test_tiers_and_unlimited() -> None:
    assert PortalSpec("p", "t").limits() == (100, 250_000)
    assert PortalSpec("p", "t", tier="professional").limits() == (190, 625_000)
    assert PortalSpec("p", "t", tier="enterprise").limits() == (190, 1_000_000)
    assert PortalSpec("p", "t", tier="api_limit_increase").limits() == (250, 2_000_000)
    assert PortalSpec("p", "t", tier="starter", daily_limit=7).limits() == (100, 7)
    assert PortalSpec("p", "t", tier="unlimited").limits() is None
    with pytest.raises(ValueError, match="unknown tier"):
        PortalSpec("p", "t", tier="gold").limits()


def test_unlimited_portals_send_no_rate_headers(partner: httpx.Client) -> None:
    response = partner.get(DEALS)
    assert response.status_code == 200
    assert "X-HubSpot-RateLimit-Max" not in response.headers


def test_limits_are_per_portal(clock: FakeClock) -> None:
    sandbox = Sandbox(specs(tier="free", ten_second_limit=1), clock=clock)
    with SandboxServer(sandbox) as server:
        for name in ("partner", "rep"):
            token = sandbox.portal(name).spec.token
            url = server.base_url(name) + DEALS
            assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_an_oauth_portal_has_110_per_10s_and_no_daily_limit_or_headers(clock: FakeClock) -> None:
    assert PortalSpec("p", "t", tier="oauth").limits() == (110, None)
    sandbox = Sandbox(specs(tier="oauth"), clock=clock)
    with SandboxServer(sandbox) as server:
        headers = {"Authorization": "Bearer demo-partner-token"}
        response = httpx.get(server.base_url("partner") + DEALS, headers=headers)
    assert response.status_code == 200
    assert response.headers["X-HubSpot-RateLimit-Max"] == "110"
    assert "X-HubSpot-RateLimit-Daily" not in response.headers
    assert "X-HubSpot-RateLimit-Daily-Remaining" not in response.headers
