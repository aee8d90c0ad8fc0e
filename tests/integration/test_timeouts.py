"""Slow answers: writes that time out on the worker's side are retried (or redone by a later
cycle) without duplicating a counterpart or losing an edit."""

from __future__ import annotations

from structlog.testing import capture_logs

from hubspot_sandbox import FaultSpec
from sync_worker.connectors.hubspot.retry import RetrySettings
from tests.integration.world import PAIR, World

QUICK_RETRY = RetrySettings(attempts=3, multiplier=0.01, max_backoff=0.05, jitter=0.01)


def test_writes_that_time_out_are_redone_without_duplicates(world: World) -> None:
    partner_id, rep_id = world.linked(amount="1000")
    world.partner.edit_deal(partner_id, {"amount": "2000"})
    registered = [world.register(dealname=f"Registered {n}") for n in range(3)]
    referred = [world.refer(dealname=f"Referred {n}") for n in range(3)]
    impatient = world.context(
        partner=world.connector("partner", retry=QUICK_RETRY, timeout=0.1),
        rep=world.connector("rep", retry=QUICK_RETRY, timeout=0.1),
    )
    slow_writes = FaultSpec(
        slow_rate=0.6,
        slow_seconds=0.25,
        endpoints=frozenset({"batch_create", "batch_update"}),
    )
    for portal in (world.partner, world.rep):
        portal.set_faults(slow_writes)

    with capture_logs() as logs:
        for _ in range(3):
            world.cycle(impatient)
    for portal in (world.partner, world.rep):
        portal.set_faults(FaultSpec())
    world.settle(3)

    assert any(e["event"] == "hubspot.retry" and "ReadTimeout" in e["error"] for e in logs)

    assert world.partner_deal(partner_id)["amount"] == world.rep_deal(rep_id)["amount"] == "2000"
    for deal_id in registered:
        assert len(world.rep_deals_for(deal_id)) == 1
    for deal_id in referred:
        assert len([d for d in world.partner.deals() if d.get("rep_deal_id") == deal_id]) == 1
    assert len(world.partner.deals()) == len(world.rep.deals()) == 7
    assert world.store.count_links(PAIR) == 7
    assert world.store.dead_letters(PAIR) == []
