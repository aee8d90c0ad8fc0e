"""Shared deals created from either side gain exactly one counterpart, linked both ways."""

from __future__ import annotations

from tests.integration.world import PAIR, RITA, World, named_partner_deal


def test_registration_gets_exactly_one_linked_rep_counterpart(world: World) -> None:
    partner_id = world.register(dealname="Initech - CRM rollout", amount="48000")

    first = world.ok_cycle()
    later = world.settle(3)

    counterparts = world.rep_deals_for(partner_id)
    assert len(counterparts) == 1
    rep_deal = counterparts[0]
    rep_id = str(rep_deal["hs_object_id"])
    assert rep_deal["shared_partner_account"] == PAIR
    assert rep_deal["dealname"] == "Initech - CRM rollout"
    assert rep_deal["amount"] == "48000"
    assert world.partner_deal(partner_id)["rep_deal_id"] == rep_id
    assert len(world.rep.deals()) == 1
    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert (link.partner_id, link.rep_id, link.status) == (partner_id, rep_id, "active")
    assert first.counts["created.rep"] == 1
    assert all(r.counts.get("created.rep", 0) == 0 for r in later)
    assert world.store.count_links(PAIR) == 1


def test_referral_lands_in_the_referred_pipeline_and_pipelines_are_never_overwritten(
    world: World,
) -> None:
    rep_id = world.refer(dealname="Globex - Service Hub")
    world.settle(2)

    counterparts = [d for d in world.partner.deals() if d.get("rep_deal_id") == rep_id]
    assert len(counterparts) == 1
    partner_deal = counterparts[0]
    partner_id = str(partner_deal["hs_object_id"])
    assert partner_deal["pipeline"] == "referred_deals"
    assert partner_deal["dealstage"] == "referred_new"
    assert partner_deal["dealname"] == "Globex - Service Hub"
    assert named_partner_deal(world.rep_deal(rep_id)["partner_deal_id"]) == partner_id

    # The partner moves the shared deal to its own sales pipeline: the worker keeps out of it.
    world.partner.edit_deal(partner_id, {"pipeline": "default", "dealstage": "qualifiedtobuy"})
    world.settle(3)

    assert world.partner_deal(partner_id)["pipeline"] == "default"
    assert world.partner_deal(partner_id)["dealstage"] == "qualifiedtobuy"
    assert world.rep_deal(rep_id)["pipeline"] == "default"


def test_a_registered_deal_keeps_its_own_pipeline(world: World) -> None:
    partner_id = world.register(pipeline="default", dealstage="contractsent")
    world.settle(3)

    partner_deal = world.partner_deal(partner_id)
    assert partner_deal["pipeline"] == "default"
    assert partner_deal["dealstage"] == "contractsent"
    rep_deal = world.rep_deal(str(partner_deal["rep_deal_id"]))
    assert rep_deal["pipeline"] == "default"
    assert rep_deal["dealstage"] == "appointmentscheduled"  # stages are internal to each side


def test_out_of_scope_deals_are_never_synced(world: World) -> None:
    unregistered = world.partner.create_deal({"dealname": "Our own deal", "amount": "100"})
    other_partner = world.refer(account="agency-999", dealname="For another agency")
    unshared = world.rep.create_deal({"dealname": "Direct deal", "amount": "200"})
    in_scope = world.register(dealname="Registered")

    reports = world.settle(3)

    assert world.partner_deal(unregistered).get("rep_deal_id") is None
    assert world.rep_deals_for(unregistered) == []
    for rep_id in (other_partner, unshared):
        assert world.rep_deal(rep_id).get("partner_deal_id") is None
        assert [d for d in world.partner.deals() if d.get("rep_deal_id") == rep_id] == []
    for deal_id in (unregistered, other_partner, unshared):
        assert world.store.find_link(PAIR, deal_id) is None
    # Only the registered deal was counterparted.
    assert len(world.partner.deals()) == 2
    assert len(world.rep.deals()) == 3
    assert len(world.rep_deals_for(in_scope)) == 1
    assert sum(r.counts.get("created.partner", 0) for r in reports) == 0
    assert world.rep_deal(other_partner)["shared_deal_team"] == RITA
