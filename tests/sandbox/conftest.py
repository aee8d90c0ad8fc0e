"""Fixtures: a two-portal sandbox on a fake clock, served over loopback HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from hubspot_sandbox import PortalSpec, Sandbox, SandboxServer, demo_portals
from sync_worker.kernel.clock import FakeClock

DEALS = "/crm/v3/objects/deals"
ClientFor = Callable[[str], httpx.Client]


def specs(**changes: Any) -> list[PortalSpec]:
    """The demo partner/rep portals, rate limiting off unless ``changes`` say otherwise."""
    return [replace(spec, **{"tier": "unlimited", **changes}) for spec in demo_portals()]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(specs(), clock=clock)


@pytest.fixture(scope="session")
def running_server() -> Iterator[SandboxServer]:
    """One uvicorn server for the session (stopping one costs ~0.2 s)."""
    with SandboxServer(Sandbox(specs())) as running:
        yield running


@pytest.fixture
def server(running_server: SandboxServer, sandbox: Sandbox) -> SandboxServer:
    """The session's server, now serving this test's fresh ``sandbox``."""
    running_server.use(sandbox)
    return running_server


@pytest.fixture
def client_for(server: SandboxServer) -> Iterator[ClientFor]:
    """``client_for("partner")``: an httpx client with the portal's base URL and token."""
    clients: list[httpx.Client] = []

    def make(name: str) -> httpx.Client:
        token = server.sandbox.portal(name).spec.token
        client = httpx.Client(
            base_url=server.base_url(name), headers={"Authorization": f"Bearer {token}"}
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def partner(client_for: ClientFor) -> httpx.Client:
    return client_for("partner")


@pytest.fixture
def rep(client_for: ClientFor) -> httpx.Client:
    return client_for("rep")


FIRST_STAGE = {"default": "appointmentscheduled", "referred_deals": "referred_new"}


def new_deal(**props: str) -> dict[str, str]:
    """Properties HubSpot requires to create a deal through the API (a name and a stage, the
    first of the pipeline given, else of the default one), plus ``props``."""
    stage = FIRST_STAGE.get(props.get("pipeline", "default"), "appointmentscheduled")
    return {"dealname": "Deal", "dealstage": stage, **props}


def create(client: httpx.Client, **props: str) -> dict[str, Any]:
    """POST a deal (see :func:`new_deal`) and return the 201 body."""
    response = client.post(DEALS, json={"properties": new_deal(**props)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
