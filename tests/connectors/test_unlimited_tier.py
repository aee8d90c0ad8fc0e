"""The "unlimited" tier (a local sandbox without limits) paces nothing on the client side."""

from __future__ import annotations

import json

import httpx
from pydantic import SecretStr

from connectors.hubspot import make_hubspot_connector
from sync_worker.clock import FakeClock


def not_found(request: httpx.Request) -> httpx.Response:
    """HubSpot's 207 for a batch read of ids that do not exist."""
    ids = [item["id"] for item in json.loads(request.content)["inputs"]]
    error = {"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": ids}}
    return httpx.Response(207, json={"status": "COMPLETE", "results": [], "errors": [error]})


def test_unlimited_sends_without_waiting() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return not_found(request)

    clock = FakeClock()
    connector = make_hubspot_connector(
        name="sandbox",
        base_url="http://127.0.0.1:9/rep",
        token=SecretStr("demo-rep-token"),
        tier="unlimited",
        clock=clock,
        transport=httpx.MockTransport(answer),
    )
    for n in range(300):  # three times the free tier's 10-second budget
        assert connector.read([str(n)], ["dealname"]).missing == (str(n),)
    assert connector.api_calls() == 300
    assert clock.sleeps == []
    connector.close()


def test_a_real_tier_paces_the_same_work() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return not_found(request)

    clock = FakeClock()
    connector = make_hubspot_connector(
        name="portal",
        base_url="http://127.0.0.1:9/rep",
        token=SecretStr("pat-na1-paced-0000"),
        tier="free",
        clock=clock,
        transport=httpx.MockTransport(answer),
    )
    for n in range(300):
        connector.read([str(n)], ["dealname"])
    assert sum(clock.sleeps) >= 20  # 300 requests at under 100 per 10 s need 2+ more windows
    connector.close()
