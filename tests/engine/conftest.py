"""Engine tests over the in-memory connector (the port's reference implementation), a real
SQLite state file and the real default mapping, with a fake clock: fully deterministic."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync_worker.connectors.base import PropertyDef, User
from sync_worker.kernel.clock import FakeClock
from sync_worker.mappings import builtin_mapping_path
from sync_worker.rules.mapping import load_mapping
from sync_worker.state import open_store
from sync_worker.state.base import StateStore
from sync_worker.sync.context import PairContext
from tests.doubles.memory import InMemoryConnector

REGISTERED = "shared_registration"
PARTNER_USERS = (User("1", "ada@agency.example"), User("2", "grace@agency.example"))
REP_USERS = (User("9", "rita@hubspot.example"), User("8", "sam@hubspot.example"))


@dataclass(slots=True)
class World:
    clock: FakeClock
    partner: InMemoryConnector
    rep: InMemoryConnector
    store: StateStore
    ctx: PairContext

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.advance(seconds)


def mapping_text() -> str:
    """The default mapping with a writable partner scope: the in-memory portal does not
    calculate HubSpot's registration count, so created partner deals carry a flag instead."""
    text = builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8")
    scope = 'property = "hs_num_associated_active_deal_registrations", operator = "GT", value = "0"'
    assert scope in text
    text = text.replace(scope, f'property = "{REGISTERED}", operator = "EQ", value = "true"')
    return text + f'\n[create.partner]\n{REGISTERED} = "true"\n'


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = FakeClock()
    mapping_file = tmp_path / "mapping.toml"
    mapping_file.write_text(mapping_text(), encoding="utf-8")
    mapping = load_mapping(mapping_file, context={"partner_account": "agency-001"})
    partner = InMemoryConnector(clock, name="partner", users=PARTNER_USERS, first_id=1001)
    rep = InMemoryConnector(clock, name="rep", users=REP_USERS, first_id=5001)
    partner.define_property(PropertyDef(REGISTERED, "bool", "booleancheckbox"))
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    ctx = PairContext("agency-001", mapping, partner, rep, store, clock, interval_seconds=60)
    yield World(clock, partner, rep, store, ctx)
    store.close()


def register(world: World, **props: str) -> str:
    """A partner registers a shared deal."""
    values = {"dealname": "Acme", "amount": "100", REGISTERED: "true", **props}
    return world.partner.put(values)
