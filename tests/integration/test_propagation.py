"""Two-way fields: one-sided edits propagate and stay, conflicts go to the newest edit, equal
edits write nothing, renames stay local, and the worker's own writes never echo back."""

from __future__ import annotations

import pytest

from sync_worker.kernel.model import Side
from tests.integration.world import (
    PAIR,
    World,
    api_history,
    products,
    tick,
    writes,
)

EDITS = {
    "amount": "51000",
    "closedate": "2027-06-30T00:00:00.000Z",
    "product_interest": "Marketing Hub Professional;Sales Hub Enterprise",
}


def same(field: str, left: str | None, right: str | None) -> bool:
    if field == "product_interest":
        return products(left) == products(right)
    return left == right


@pytest.mark.parametrize("field", sorted(EDITS))
@pytest.mark.parametrize("edited", [Side.PARTNER, Side.REP])
def test_a_one_sided_edit_propagates_and_is_never_reverted(
    world: World, field: str, edited: Side
) -> None:
    partner_id, rep_id = world.linked()
    portal, deal_id = (world.partner, partner_id) if edited is Side.PARTNER else (world.rep, rep_id)
    portal.edit_deal(deal_id, {field: EDITS[field]})

    reports = world.settle(4)

    assert reports[0].counts[f"updated.{edited.other}"] == 1
    for value in (world.partner_deal(partner_id)[field], world.rep_deal(rep_id)[field]):
        assert same(field, value, EDITS[field])
    assert all(
        r.counts.get("updated.partner", 0) + r.counts.get("updated.rep", 0) == 0
        for r in reports[1:]
    )


def test_edits_of_different_fields_on_each_side_both_survive(world: World) -> None:
    partner_id, rep_id = world.linked()
    world.partner.edit_deal(partner_id, {"amount": "61000"})
    world.rep.edit_deal(rep_id, {"closedate": "2027-09-30T00:00:00.000Z"})

    world.settle(3)

    for deal in (world.partner_deal(partner_id), world.rep_deal(rep_id)):
        assert deal["amount"] == "61000"
        assert deal["closedate"] == "2027-09-30T00:00:00.000Z"


@pytest.mark.parametrize(
    ("field", "partner_value", "rep_value"),
    [
        ("amount", "12000", "15000"),
        ("product_interest", "HubSpot CMS", "Data Hub Starter;Sales Hub Enterprise"),
        ("closedate", "2027-04-30T00:00:00.000Z", "2027-05-31T00:00:00.000Z"),
    ],
)
@pytest.mark.parametrize("newer", [Side.PARTNER, Side.REP])
def test_conflicting_edits_newest_edit_wins(
    world: World, field: str, partner_value: str, rep_value: str, newer: Side
) -> None:
    partner_id, rep_id = world.linked()
    edits = [(world.partner, partner_id, partner_value), (world.rep, rep_id, rep_value)]
    if newer is Side.PARTNER:
        edits.reverse()
    for portal, deal_id, value in edits:
        portal.edit_deal(deal_id, {field: value})
        tick()

    report = world.settle(3)[0]

    winner = partner_value if newer is Side.PARTNER else rep_value
    assert same(field, world.partner_deal(partner_id)[field], winner)
    assert same(field, world.rep_deal(rep_id)[field], winner)
    assert report.counts[f"updated.{newer.other}"] == 1
    assert report.counts.get(f"updated.{newer}", 0) == 0
    change = next(c for c in world.store.changes_for(PAIR, partner_id) if c.field == field)
    assert change.side_written is newer.other
    assert change.rule == "newest_wins"


def test_both_sides_setting_the_same_value_writes_nothing(world: World) -> None:
    partner_id, rep_id = world.linked()
    world.settle(1)
    before = (writes(world.partner), writes(world.rep))
    history = (api_history(world.partner, partner_id), api_history(world.rep, rep_id))
    world.partner.edit_deal(partner_id, {"amount": "77000"})
    tick()
    world.rep.edit_deal(rep_id, {"amount": "77000.00"})

    reports = world.settle(3)

    assert (writes(world.partner), writes(world.rep)) == before
    assert (api_history(world.partner, partner_id), api_history(world.rep, rep_id)) == history
    assert world.partner_deal(partner_id)["amount"] == "77000"
    assert world.rep_deal(rep_id)["amount"] == "77000"
    assert all(r.counts.get("fields_changed", 0) == 0 for r in reports)


def test_deal_name_renames_after_creation_do_not_sync(world: World) -> None:
    partner_id, rep_id = world.linked(dealname="Initech - CRM rollout")
    world.partner.edit_deal(partner_id, {"dealname": "Initech (partner's name)"})
    world.settle(2)
    world.rep.edit_deal(rep_id, {"dealname": "Initech (rep's name)"})
    world.settle(2)

    assert world.partner_deal(partner_id)["dealname"] == "Initech (partner's name)"
    assert world.rep_deal(rep_id)["dealname"] == "Initech (rep's name)"
    assert not [c for c in world.store.changes_for(PAIR, partner_id) if c.field == "dealname"][1:]


def test_the_workers_own_writes_never_echo(world: World) -> None:
    pairs = [world.linked(amount=str(1000 * n)) for n in range(1, 4)]
    world.register(dealname="New on the partner side")
    world.refer(dealname="New on the rep side")
    (p1, _), (_, r2), (p3, r3) = pairs
    world.partner.edit_deal(p1, {"amount": "1111"})
    world.rep.edit_deal(r2, {"closedate": "2027-12-31T00:00:00.000Z"})
    world.partner.edit_deal(p3, {"product_interest": "HubSpot CMS"})
    world.rep.edit_deal(r3, {"amount": "3333"})

    busy = world.ok_cycle()
    assert busy.counts["updated.partner"] + busy.counts["updated.rep"] >= 4
    assert busy.counts["created.partner"] == busy.counts["created.rep"] == 1
    history = [api_history(world.partner, p) + api_history(world.rep, r) for p, r in pairs]
    written = (writes(world.partner), writes(world.rep))

    idle = world.settle(4)

    for report in idle:
        assert report.counts.get("updated.partner", 0) == 0
        assert report.counts.get("updated.rep", 0) == 0
        assert report.counts.get("created.partner", 0) == 0
        assert report.counts.get("created.rep", 0) == 0
        assert report.api_calls == 2  # one search per side
    assert [api_history(world.partner, p) + api_history(world.rep, r) for p, r in pairs] == history
    assert (writes(world.partner), writes(world.rep)) == written
