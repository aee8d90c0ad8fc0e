"""The connector contract suite's backends: one factory function per implementation.

A backend is a :class:`Backend`: the connector under test plus the hooks the suite needs to
act as a CRM user (create, edit, archive a deal) and the :class:`FakeClock` that stamps those
edits. To add an implementation, write one more ``@contextmanager`` factory taking a FakeClock
and append it to :data:`BACKENDS`; every test in ``test_connector_contract.py`` then runs on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import respx
from pydantic import SecretStr

from sync_worker.connectors.base import Connector, User
from sync_worker.connectors.hubspot import make_hubspot_connector
from sync_worker.kernel.clock import FakeClock
from tests.connectors.fake_hubspot import TOKEN, FakeHubSpot
from tests.doubles.memory import InMemoryConnector

USERS = (
    User("11", "Ann@Partner.example"),
    User("12", "bob@partner.example"),
    User("13", "cleo@partner.example", active=False),  # a deactivated user
)


@dataclass
class Backend:
    """A connector under test and the hooks a CRM user would have."""

    name: str
    connector: Connector
    clock: FakeClock
    create: Callable[[Mapping[str, str]], str]
    edit: Callable[[str, Mapping[str, str]], None]
    archive: Callable[[str], None]


BackendFactory = Callable[[FakeClock], AbstractContextManager[Backend]]


def _backend(
    name: str, connector: Connector, clock: FakeClock, store: InMemoryConnector
) -> Backend:
    def edit(deal_id: str, properties: Mapping[str, str]) -> None:
        store.edit(deal_id, properties)

    return Backend(name, connector, clock, create=store.put, edit=edit, archive=store.archive)


@contextmanager
def memory_backend(clock: FakeClock) -> Iterator[Backend]:
    store = InMemoryConnector(clock, name="memory", users=USERS)
    yield _backend("memory", store, clock, store)


@contextmanager
def hubspot_respx_backend(clock: FakeClock) -> Iterator[Backend]:
    """HubSpotConnector over HTTP to a stateful fake HubSpot, intercepted by respx."""
    fake = FakeHubSpot(clock, store=InMemoryConnector(clock, users=USERS))
    base_url = "https://api.hubapi.test/portal-1"
    with respx.mock(base_url=base_url, assert_all_called=False) as router:
        router.route().mock(side_effect=fake.handle)
        connector = make_hubspot_connector(
            name="hubspot-respx",
            base_url=base_url,
            token=SecretStr(TOKEN),
            tier="professional",
            clock=clock,
        )
        yield _backend("hubspot-respx", connector, clock, fake.store)
        connector.close()


@contextmanager
def sandbox_backend(clock: FakeClock) -> Iterator[Backend]:
    """HubSpotConnector over real loopback HTTP to ``hubspot_sandbox``."""
    from hubspot_sandbox import Owner, PortalSpec, Sandbox, SandboxServer
    from hubspot_sandbox.seed import shared_properties
    from hubspot_sandbox.spec import PropertyDef as SandboxProperty

    spec = PortalSpec(
        name="contract",
        token=TOKEN,
        tier="unlimited",
        properties=(
            SandboxProperty("partner_deal_id", "Partner deal ID", unique=True),
            *shared_properties(),
        ),
        owners=tuple(
            Owner(u.id, u.email, "First", "Last", user_id=int(u.id) + 100, archived=not u.active)
            for u in USERS
        ),
    )
    sandbox = Sandbox([spec], clock=clock)
    portal = sandbox.portal("contract")
    registrations = "hs_num_associated_active_deal_registrations"

    def create(properties: Mapping[str, str]) -> str:
        deal_id = portal.create_deal({k: v for k, v in properties.items() if k != registrations})
        if properties.get(registrations, "0") != "0":
            portal.register_deal(deal_id)
        return deal_id

    def edit(deal_id: str, properties: Mapping[str, str]) -> None:
        portal.edit_deal(deal_id, properties)

    with SandboxServer(sandbox) as server:
        connector = make_hubspot_connector(
            name="sandbox",
            base_url=server.base_url("contract"),
            token=SecretStr(TOKEN),
            tier="professional",
            clock=clock,
        )
        yield Backend("sandbox", connector, clock, create, edit, portal.archive_deal)
        connector.close()


BACKENDS: list[BackendFactory] = [memory_backend, hubspot_respx_backend, sandbox_backend]


@pytest.fixture(params=BACKENDS, ids=lambda f: f.__name__.removesuffix("_backend"))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    clock = FakeClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    with request.param(clock) as built:
        yield built


@pytest.fixture
def connector(backend: Backend) -> Connector:
    return backend.connector
