"""A link property naming a deal outside the pair's scope (typed by hand, or copied from another
deal) must never pull that deal into the sync: scope is the boundary between accounts."""

from __future__ import annotations

import time

import pytest

from tests.integration.world import PAIR, SAM, World


@pytest.mark.parametrize("target", ["unshared", "another-agency"])
def test_a_partner_deal_cannot_claim_a_rep_deal_outside_the_pairs_scope(
    world: World, target: str
) -> None:
    if target == "unshared":
        foreign = world.rep.create_deal(
            {"dealname": "Rep's own deal", "amount": "999999", "shared_deal_team": SAM}
        )
    else:
        foreign = world.refer("agency-999", dealname="Referred to agency-999", amount="555")
    before = world.rep_deal(foreign)
    claimer = world.register(dealname="Names a foreign rep deal", rep_deal_id=foreign, amount="1")

    world.settle(2)

    assert world.rep_deal(foreign) == before
    assert world.partner_deal(claimer)["amount"] == "1"
    assert world.partner_deal(claimer)["shared_deal_team"] == "ada.lovelace@agency.example"
    link = world.store.find_link(PAIR, claimer)
    assert link is None or link.status != "active"


def test_a_rep_deal_cannot_claim_an_unregistered_partner_deal(world: World) -> None:
    private = world.partner.create_deal({"dealname": "Agency's own deal", "amount": "777"})
    before = world.partner_deal(private)
    claimer = world.refer(dealname="Names a private partner deal", amount="3")
    world.rep.edit_deal(claimer, {"partner_deal_id": private})

    world.settle(2)

    assert world.partner_deal(private) == before
    assert world.store.find_link(PAIR, private) is None
    assert world.rep_deal(claimer)["amount"] == "3"


def test_a_rep_deal_reassigned_to_another_partner_stops_receiving_edits(world: World) -> None:
    partner_id, rep_id = world.linked(amount="1000")
    world.rep.edit_deal(rep_id, {"shared_partner_account": "agency-999"})
    world.settle(1)
    world.partner.edit_deal(partner_id, {"amount": "2000", "shared_deal_team": ""})

    world.settle(2)

    assert world.rep_deal(rep_id)["amount"] == "1000"
    assert world.rep_deal(rep_id)["shared_partner_account"] == "agency-999"


def test_an_edit_made_while_the_counterpart_was_out_of_scope_syncs_when_it_returns(
    world: World,
) -> None:
    # A short overlap stands for a counterpart out of scope for longer than the overlap.
    world.ctx_override(overlap_seconds=0.2)
    partner_id, rep_id = world.linked(amount="1000")
    other_id, _ = world.linked(amount="5")
    world.rep.edit_deal(rep_id, {"shared_partner_account": "agency-999"})
    world.partner.edit_deal(partner_id, {"amount": "2000"})
    world.settle(1)
    assert world.rep_deal(rep_id)["amount"] == "1000"  # not written while out of scope
    time.sleep(0.3)
    world.partner.edit_deal(other_id, {"amount": "6"})  # later activity moves the cursor on
    world.settle(1)
    time.sleep(0.3)

    world.rep.edit_deal(rep_id, {"shared_partner_account": PAIR})
    world.settle(3)

    assert world.rep_deal(rep_id)["amount"] == world.partner_deal(partner_id)["amount"] == "2000"
