"""A deal the rep refers keeps syncing both ways after its partner counterpart exists, although
HubSpot never counts that counterpart as registered (the sandbox follows HubSpot: only a
registration made in the UI counts). Skips for scope are never silent."""

from __future__ import annotations

from structlog.testing import capture_logs

from sync_worker.kernel.model import Side
from sync_worker.ops.explain import explain
from tests.integration.world import PAIR, World, tick

REGISTRATIONS = "hs_num_associated_active_deal_registrations"


def referred_pair(world: World) -> tuple[str, str]:
    rep_id = world.refer(dealname="Globex - Service Hub", amount="1000")
    world.settle(2)
    [partner] = [d for d in world.partner.deals() if d.get("rep_deal_id") == rep_id]
    return str(partner["hs_object_id"]), rep_id


def test_a_rep_referral_round_trips_edits_both_ways(world: World) -> None:
    partner_id, rep_id = referred_pair(world)
    assert world.partner_deal(partner_id)[REGISTRATIONS] == "0"  # as in HubSpot
    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert link.origin is Side.REP

    world.partner.edit_deal(partner_id, {"amount": "2000"})
    world.settle(2)
    assert world.rep_deal(rep_id)["amount"] == "2000"

    tick()
    world.rep.edit_deal(rep_id, {"closedate": "2027-06-30T00:00:00.000Z"})
    world.settle(2)
    assert world.partner_deal(partner_id)["closedate"] == "2027-06-30T00:00:00.000Z"
    assert world.partner_deal(partner_id)["amount"] == "2000"


def test_an_ended_registration_stops_the_sync_with_an_event_a_count_and_a_reason(
    world: World,
) -> None:
    partner_id, rep_id = world.linked(amount="1000")
    world.partner.end_registration(partner_id)
    tick()
    world.rep.edit_deal(rep_id, {"amount": "5000"})

    with capture_logs() as logs:
        report = world.ok_cycle()

    assert world.partner_deal(partner_id)["amount"] == "1000"
    assert report.counts["skipped.out_of_scope"] >= 1
    [event] = [e for e in logs if e["event"] == "linked_deal_out_of_scope"][:1]
    assert event["partner_id"] == partner_id
    assert f"{REGISTRATIONS} GT 0" in event["reason"]
    [row] = world.store.status([PAIR])
    assert row.out_of_scope == 1
    why = explain(world.ctx, partner_id).note or ""
    assert "not syncing" in why
    assert f"fails the partner scope filter {REGISTRATIONS} GT 0" in why

    world.partner.register_deal(partner_id)  # registered again: the edit made meanwhile flows
    world.settle(2)
    assert world.partner_deal(partner_id)["amount"] == "5000"
    [row] = world.store.status([PAIR])
    assert row.out_of_scope == 0


def test_a_referral_given_to_another_partner_stops_its_counterpart_too(world: World) -> None:
    partner_id, rep_id = referred_pair(world)
    world.rep.edit_deal(rep_id, {"shared_partner_account": "agency-999"})
    tick()
    world.partner.edit_deal(partner_id, {"amount": "7"})

    with capture_logs() as logs:
        world.settle(2)

    assert world.rep_deal(rep_id)["amount"] == "1000"
    events = [e for e in logs if e["event"] == "linked_deal_out_of_scope"]
    assert events
    assert "shared_partner_account EQ agency-001" in events[0]["reason"]
