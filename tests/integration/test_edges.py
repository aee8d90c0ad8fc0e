"""Edges people hit: clearing a value, tampering with a link property, and deal-team members
who belong to neither account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.model import Side
from tests.integration.world import (
    ADA,
    PAIR,
    RITA,
    World,
    load_text_team_mapping,
    members,
    named_partner_deal,
    team,
    tick,
)

GUEST = "guest.consultant@client.example"


@pytest.mark.parametrize("field", ["amount", "closedate", "product_interest"])
@pytest.mark.parametrize("cleared_by", [Side.PARTNER, Side.REP])
def test_clearing_a_value_propagates(world: World, field: str, cleared_by: Side) -> None:
    partner_id, rep_id = world.linked()
    portal, deal_id = (
        (world.partner, partner_id) if cleared_by is Side.PARTNER else (world.rep, rep_id)
    )
    portal.edit_deal(deal_id, {field: ""})

    world.settle(3)

    assert world.partner_deal(partner_id).get(field) is None
    assert world.rep_deal(rep_id).get(field) is None


@pytest.mark.parametrize("tampered", [Side.PARTNER, Side.REP])
def test_a_cleared_link_property_is_restored_without_a_new_counterpart(
    world: World, tampered: Side
) -> None:
    partner_id, rep_id = world.linked()
    if tampered is Side.PARTNER:
        world.partner.edit_deal(partner_id, {"rep_deal_id": ""})
    else:
        world.rep.edit_deal(rep_id, {"partner_deal_id": ""})

    reports = world.settle(3)

    assert world.partner_deal(partner_id)["rep_deal_id"] == rep_id
    assert named_partner_deal(world.rep_deal(rep_id)["partner_deal_id"]) == partner_id
    assert len(world.partner.deals()) == len(world.rep.deals()) == 1
    assert all(r.counts.get(f"created.{s}", 0) == 0 for r in reports for s in Side)
    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert (link.rep_id, link.status) == (rep_id, "active")


@pytest.mark.parametrize("adder", [Side.PARTNER, Side.REP])
def test_a_member_of_neither_account_can_be_added_and_removed_by_either_side(
    world: World, adder: Side
) -> None:
    world.mapping = load_text_team_mapping()  # only a text team can hold a non-user
    partner_id, rep_id = world.linked(shared_deal_team=ADA)
    world.rep.edit_deal(rep_id, {"shared_deal_team": team(ADA, RITA)})
    world.settle(2)
    sides = {Side.PARTNER: (world.partner, partner_id), Side.REP: (world.rep, rep_id)}
    portal, deal_id = sides[adder]
    portal.edit_deal(deal_id, {"shared_deal_team": team(ADA, RITA, GUEST)})
    world.settle(2)
    for deal in (world.partner_deal(partner_id), world.rep_deal(rep_id)):
        assert members(deal["shared_deal_team"]) == {ADA, RITA, GUEST}

    other, other_id = sides[adder.other]
    other.edit_deal(other_id, {"shared_deal_team": team(ADA, RITA)})
    world.settle(2)

    for deal in (world.partner_deal(partner_id), world.rep_deal(rep_id)):
        assert members(deal["shared_deal_team"]) == {ADA, RITA}


@pytest.mark.parametrize("newer", [Side.PARTNER, Side.REP])
def test_a_clear_against_an_edit_newest_wins(world: World, newer: Side) -> None:
    partner_id, rep_id = world.linked(amount="1000")
    edits = [(world.partner, partner_id, ""), (world.rep, rep_id, "2500")]
    if newer is Side.PARTNER:
        edits.reverse()
    for portal, deal_id, value in edits:
        portal.edit_deal(deal_id, {"amount": value})
        tick()

    world.settle(3)

    expected = None if newer is Side.PARTNER else "2500"
    assert world.partner_deal(partner_id).get("amount") == expected
    assert world.rep_deal(rep_id).get("amount") == expected


def test_a_registration_with_a_mistyped_link_syncs_once_the_link_is_cleared(
    world: World,
) -> None:
    partner_id = world.register(dealname="Typo in the rep deal id", rep_deal_id="99999")
    world.settle(2)
    world.partner.edit_deal(partner_id, {"rep_deal_id": ""})

    world.settle(2)

    [rep_deal] = world.rep_deals_for(partner_id)
    assert world.partner_deal(partner_id)["rep_deal_id"] == rep_deal["hs_object_id"]
    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert link.status == "active"


def test_links_written_as_bare_ids_are_rewritten_once_in_the_mappings_form(world: World) -> None:
    """Deals linked before the rep link named the partner account (or linked by hand) keep their
    link, are rewritten once, and cost nothing afterwards."""
    pairs = []
    for n in range(3):
        partner_id = world.partner.create_deal({"dealname": f"Old link {n}", "amount": "10"})
        rep_id = world.rep.create_deal(
            {
                "dealname": f"Old link {n}",
                "amount": "10",
                "partner_deal_id": partner_id,  # the bare id, as older links hold it
                "shared_partner_account": PAIR,
            }
        )
        world.partner.edit_deal(partner_id, {"rep_deal_id": rep_id})
        pairs.append((partner_id, rep_id))

    first = world.ok_cycle()
    idle = world.settle(2)

    for partner_id, rep_id in pairs:
        stored = world.rep_deal(rep_id)["partner_deal_id"]
        assert stored == world.mapping.link_value(Side.REP, partner_id)
        assert world.partner_deal(partner_id)["rep_deal_id"] == rep_id
    assert first.counts["updated.rep"] == 3
    assert all(r.counts.get("updated.rep", 0) == 0 for r in idle)
    assert len(world.rep.deals()) == len(world.partner.deals()) == 3
    assert world.store.count_links(PAIR) == 3


@pytest.mark.parametrize("skew_seconds", [-3600, 3600])
def test_a_worker_clock_an_hour_off_the_crms_changes_nothing(
    world: World, skew_seconds: int
) -> None:
    """Cursors and newest-wins use the CRMs' own timestamps, never the worker's clock."""
    world.clock = FakeClock(datetime.now(UTC) + timedelta(seconds=skew_seconds))
    partner_id, rep_id = world.linked(amount="1")
    world.partner.edit_deal(partner_id, {"amount": "2"})
    world.settle(2)
    world.rep.edit_deal(rep_id, {"amount": "3"})
    world.settle(2)

    idle = world.settle(2)

    assert world.partner_deal(partner_id)["amount"] == world.rep_deal(rep_id)["amount"] == "3"
    assert [r.api_calls for r in idle] == [2, 2]
