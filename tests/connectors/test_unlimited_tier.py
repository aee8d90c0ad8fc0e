"""The "unlimited" tier (a local sandbox without limits) paces nothing on the client side."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from sync_worker.connectors.hubspot import make_hubspot_connector
from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.errors import ConfigError


def not_found(request: httpx.Request) -> httpx.Response:
    """HubSpot's 207 for a batch read of ids that do not exist."""
    ids = [item["id"] for item in json.loads(request.content)["inputs"]]
    error = {"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": ids}}
    return httpx.Response(207, json={"status": "COMPLETE", "results": [], "errors": [error]})


def read_300(tier: str) -> FakeClock:
    """300 single-id reads (three times the free tier's 10-second budget); the clock slept on."""
    clock = FakeClock()
    connector = make_hubspot_connector(
        name="portal",
        base_url="http://127.0.0.1:9/rep",
        token=SecretStr(f"pat-na1-{tier}-0000"),
        tier=tier,
        clock=clock,
        transport=httpx.MockTransport(not_found),
    )
    for n in range(300):
        assert connector.read([str(n)], ["dealname"]).missing == (str(n),)
    assert connector.api_calls() == 300
    connector.close()
    return clock


def test_unlimited_sends_without_waiting() -> None:
    assert read_300("unlimited").sleeps == []


def test_a_real_tier_paces_the_same_work() -> None:
    assert sum(read_300("free").sleeps) >= 20  # under 100 per 10 s: two more windows at least


def test_a_page_size_that_could_not_advance_is_refused() -> None:
    for size in (0, 1, 201):
        with pytest.raises(ConfigError, match=r"page_size must be 2\.\.200"):
            make_hubspot_connector(
                name="p",
                base_url="http://127.0.0.1:9/p",
                token=SecretStr("pat-na1-x-0000"),
                tier="free",
                clock=FakeClock(),
                page_size=size,
            )
