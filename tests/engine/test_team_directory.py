"""The owners a deal team is resolved through are fetched at the edge: only when a pair needs
them, reloaded at most once per side and cycle for ids the cached list lacks, and the ids that
stay unknown are logged."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from structlog.testing import capture_logs

from sync_worker.connectors.base import User
from sync_worker.kernel.clock import FakeClock
from sync_worker.sync.engine import run_cycle
from tests.doubles.memory import InMemoryConnector
from tests.engine.conftest import PARTNER_USERS, World, register

COLLABORATORS = "hs_all_collaborator_owner_ids"


class CountingRefreshes(InMemoryConnector):
    """The in-memory portal, counting the owner reloads asked of it."""

    def __init__(self, clock: FakeClock, **kwargs: Any) -> None:
        super().__init__(clock, **kwargs)
        self.refreshes = 0

    def owners(self, *, refresh: bool = False) -> tuple[User, ...]:
        self.refreshes += refresh
        return super().owners(refresh=refresh)


def test_unknown_owner_ids_reload_the_owners_once_per_cycle_and_are_logged(
    world: World,
) -> None:
    partner = CountingRefreshes(world.clock, name="partner", users=PARTNER_USERS, first_id=1001)
    partner.define_property(world.partner.property_definitions()["shared_registration"])
    world.ctx = replace(world.ctx, partner=partner)
    world.partner = partner
    first = register(world, **{COLLABORATORS: "1"})
    second = register(world, **{COLLABORATORS: "2"})
    world.tick()
    assert run_cycle(world.ctx).outcome == "ok"
    assert partner.refreshes == 0  # every id known: nothing reloaded
    # A user joins the account and is made a collaborator of both deals at once, next to ids
    # the account's owners do not list at all (deleted users).
    partner.set_users([*PARTNER_USERS, User("3", "noor@agency.example", "Noor New")])
    world.tick()
    partner.edit(first, {COLLABORATORS: "1;3;404"})
    partner.edit(second, {COLLABORATORS: "2;3;405"})
    world.tick()

    with capture_logs() as logs:
        assert run_cycle(world.ctx).outcome == "ok"

    assert partner.refreshes == 1  # two deals, one reload
    unknown = [e for e in logs if e["event"] == "deal_team_owner_unknown"]
    assert sorted((e["deal_id"], e["owner_id"]) for e in unknown) == [
        (first, "404"),
        (second, "405"),
    ]
    for deal_id in (first, second):  # the newcomer is shown on both deals
        record = partner.get(deal_id)
        assert record is not None
        assert "Noor New <noor@agency.example>" in (record.get("shared_deal_team") or "")


def test_a_cycle_with_nothing_to_reconcile_reads_no_owners(world: World) -> None:
    partner = CountingRefreshes(world.clock, name="partner", users=PARTNER_USERS, first_id=1001)
    world.ctx = replace(world.ctx, partner=partner)

    report = run_cycle(world.ctx)

    assert report.api_calls == 2  # one search per side
    assert partner.refreshes == 0
