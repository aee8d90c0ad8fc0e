"""Pairs sharing a credential share its metadata: the rep CRM's owners are loaded once for every
pair, not once per pair (a thousand pairs would otherwise swamp the rep portal's budget)."""

from __future__ import annotations

import threading
import time

import httpx
from pydantic import SecretStr

from sync_worker.connectors.hubspot import make_hubspot_connector
from sync_worker.connectors.hubspot.metadata import MetadataRegistry
from sync_worker.kernel.clock import FakeClock

OWNERS = {"results": [{"id": "1", "email": "Rita@HubSpot.example", "archived": False}]}


def owners_portal(requests: list[str], delay: float = 0.0) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request.url.path)
        time.sleep(delay)  # a slow portal: concurrent callers overlap
        return httpx.Response(200, json=OWNERS)

    return httpx.MockTransport(answer)


def test_connectors_of_one_credential_load_owners_once() -> None:
    requests: list[str] = []
    registry, clock = MetadataRegistry(), FakeClock()
    connectors = [
        make_hubspot_connector(
            name=f"rep-for-pair-{n}",
            base_url="https://api.hubapi.test",
            token=SecretStr("pat-na1-rep-0000"),
            tier="unlimited",
            clock=clock,
            transport=owners_portal(requests, delay=0.05),
            metadata_registry=registry,
        )
        for n in range(20)
    ]
    threads = [threading.Thread(target=c.users) for c in connectors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [u.email for u in connectors[7].users()] == ["rita@hubspot.example"]
    assert requests == ["/crm/v3/owners"]
    clock.advance(301)  # past the 5-minute cache: one reload serves everyone again
    for connector in connectors:
        connector.users()
    assert requests == ["/crm/v3/owners", "/crm/v3/owners"]


def test_another_credential_has_its_own_cache() -> None:
    requests: list[str] = []
    registry, clock = MetadataRegistry(), FakeClock()
    for token in ("pat-na1-a-0000", "pat-na1-b-0000"):
        make_hubspot_connector(
            name="p",
            base_url="https://api.hubapi.test",
            token=SecretStr(token),
            tier="unlimited",
            clock=clock,
            transport=owners_portal(requests),
            metadata_registry=registry,
        ).users()
    assert len(requests) == 2
