"""A flaky HubSpot: server errors (some after the write landed), injected 429s and broken
bodies never cause a duplicate, a lost edit or a false delete."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from hubspot_sandbox import FaultSpec
from sync_worker.connectors.hubspot.retry import RetrySettings
from sync_worker.kernel.model import Side
from sync_worker.sync.context import PairContext
from tests.integration.world import PAIR, World, named_partner_deal

FAST_RETRY = RetrySettings(
    attempts=4, multiplier=0.005, max_backoff=0.02, jitter=0.005, max_retry_after=0.02
)


def fast_retrying(world: World) -> PairContext:
    return world.context(
        partner=world.connector("partner", retry=FAST_RETRY),
        rep=world.connector("rep", retry=FAST_RETRY),
    )


def test_a_flaky_crm_never_duplicates_loses_or_deletes(world: World) -> None:
    ctx = fast_retrying(world)
    linked = [world.linked(amount=str(1000 + n)) for n in range(6)]
    for n, (partner_id, rep_id) in enumerate(linked):
        side_portal, deal_id = (world.partner, partner_id) if n % 2 else (world.rep, rep_id)
        side_portal.edit_deal(deal_id, {"amount": str(5000 + n)})
    registered = [world.register(dealname=f"Registered {n}") for n in range(6)]
    referred = [world.refer(dealname=f"Referred {n}") for n in range(6)]
    flaky = FaultSpec(error_rate=0.25, errors_after_write=True, rate_limit_rate=0.1)
    for portal in (world.partner, world.rep):
        portal.set_faults(flaky)

    with capture_logs():
        for _ in range(8):
            world.cycle(ctx)
    for portal in (world.partner, world.rep):
        portal.set_faults(FaultSpec())
    for _ in range(3):
        assert world.cycle(ctx).outcome == "ok"

    served = [c for p in (world.partner, world.rep) for c in p.counters.values()]
    assert sum(n for counts in served for status, n in counts.items() if status >= 500) > 0
    assert sum(counts.get(429, 0) for counts in served) > 0
    for n, (partner_id, rep_id) in enumerate(linked):
        assert world.partner_deal(partner_id)["amount"] == str(5000 + n)
        assert world.rep_deal(rep_id)["amount"] == str(5000 + n)
    for partner_id in registered:
        [rep_deal] = world.rep_deals_for(partner_id)
        assert world.partner_deal(partner_id)["rep_deal_id"] == rep_deal["hs_object_id"]
    for rep_id in referred:
        partner_deals = [d for d in world.partner.deals() if d.get("rep_deal_id") == rep_id]
        assert len(partner_deals) == 1
        named = named_partner_deal(world.rep_deal(rep_id)["partner_deal_id"])
        assert named == partner_deals[0]["hs_object_id"]
    assert len(world.partner.deals()) == len(world.rep.deals()) == 18
    assert world.store.count_links(PAIR) == 18
    for deal in world.partner.deals():
        link = world.store.find_link(PAIR, str(deal["hs_object_id"]))
        assert link is not None
        assert link.status == "active"
    assert world.store.dead_letters(PAIR) == []


@pytest.mark.parametrize("broken_side", [Side.REP, Side.PARTNER])
def test_a_truncated_read_response_never_tombstones_a_link(world: World, broken_side: Side) -> None:
    partner_id, rep_id = world.linked()
    edited = world.partner if broken_side is Side.REP else world.rep
    edited.edit_deal(partner_id if broken_side is Side.REP else rep_id, {"amount": "5"})
    broken = world.rep if broken_side is Side.REP else world.partner
    broken.set_faults(FaultSpec(malformed_rate=1.0, endpoints=frozenset({"batch_read"})))

    with capture_logs():
        world.cycle(fast_retrying(world))
    broken.set_faults(FaultSpec())
    world.settle(2)

    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert link.status == "active"
    assert world.partner_deal(partner_id)["amount"] == world.rep_deal(rep_id)["amount"] == "5"
