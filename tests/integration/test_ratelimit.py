"""The worker paces itself under the portals' limits: no 429 even when the work needs more
requests than one 10-second window allows.

Each portal runs on its own :class:`FakeClock`, which the connector for that portal shares:
every wait of the worker's limiter advances it, so the portal's 10-second windows pass without
the test spending real time. (One clock per portal: a wait for one portal must not move the
other portal's time between a grant and its request, which real time never does.)
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hubspot_sandbox import TIERS, Portal
from sync_worker.connectors.hubspot.ratelimit import LimiterRegistry
from sync_worker.kernel.clock import FakeClock
from sync_worker.sync.engine import CycleOptions
from tests.integration.conftest import MakeWorld, portal_specs
from tests.integration.world import PAIR, World, status_count


def general_requests(portal: Portal) -> int:
    """Requests that count against the 10-second window (search has its own limit)."""
    return sum(sum(counts.values()) for name, counts in portal.counters.items() if name != "search")


def free_tier_world(make_world: MakeWorld, ten_second_limit: int) -> World:
    start = datetime.now(UTC)
    specs = portal_specs(
        tier="free",
        partner={"ten_second_limit": ten_second_limit, "clock": FakeClock(start)},
        rep={"ten_second_limit": ten_second_limit, "clock": FakeClock(start)},
    )
    return make_world(specs, LimiterRegistry())


@pytest.mark.parametrize(
    ("ten_second_limit", "deals"),
    [
        # HubSpot's free tier as documented: 100 requests per 10 s.
        pytest.param(TIERS["free"][0], 110, id="free-tier"),
        # A portal allowing less than the tier says; only its response headers tell.
        pytest.param(15, 14, id="headers-lower-the-limit"),
    ],
)
def test_no_request_is_refused_when_the_work_needs_more_than_one_window(
    make_world: MakeWorld, ten_second_limit: int, deals: int
) -> None:
    world = free_tier_world(make_world, ten_second_limit)
    rep_clock, partner_clock = world.rep.clock, world.partner.clock
    assert isinstance(rep_clock, FakeClock)
    assert isinstance(partner_clock, FakeClock)
    partner_ids = [world.register(amount=str(1000 + n)) for n in range(deals)]
    first = world.context(
        partner=world.connector("partner", tier="free"), rep=world.connector("rep", tier="free")
    )
    for clock in (rep_clock, partner_clock):  # a pull reads what was modified before it
        clock.advance(1)
    assert world.cycle(first).outcome == "ok"
    for n, partner_id in enumerate(partner_ids):
        world.partner.edit_deal(partner_id, {"amount": str(5000 + n)})
    for clock in (rep_clock, partner_clock):
        clock.advance(1)
    # Small partner pages, a unit each: each costs a read and an update on the rep.
    ctx = world.context(
        partner=world.connector("partner", tier="free", page_size=2),
        rep=world.connector("rep", tier="free"),
    )

    before = rep_clock.monotonic()
    report = world.cycle(ctx, CycleOptions(unit_records=2))

    assert report.outcome == "ok"
    assert status_count(world.partner, 429) == 0
    assert status_count(world.rep, 429) == 0
    assert general_requests(world.rep) > ten_second_limit
    assert rep_clock.monotonic() - before >= 10  # the worker waited for a window to pass
    for n, partner_id in enumerate(partner_ids):
        [rep_deal] = world.rep_deals_for(partner_id)
        assert rep_deal["amount"] == str(5000 + n)
    assert world.store.count_links(PAIR) == deals
