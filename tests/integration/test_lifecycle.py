"""Archived counterparts become tombstones (deletes never propagate), and bad records are
dead-lettered with HubSpot's reason while the rest of the batch syncs."""

from __future__ import annotations

import pytest

from hubspot_sandbox import Option, PropertyDef
from sync_worker.connectors.hubspot.standard import PRODUCTS
from sync_worker.kernel.model import Side
from tests.integration.conftest import MakeWorld, portal_specs
from tests.integration.world import PAIR, World, products


@pytest.mark.parametrize("archived", [Side.PARTNER, Side.REP])
def test_an_archived_counterpart_leaves_a_tombstone_and_is_never_recreated(
    world: World, archived: Side
) -> None:
    partner_id, rep_id = world.linked()
    gone, survivor = (
        (world.partner, world.rep) if archived is Side.PARTNER else (world.rep, world.partner)
    )
    gone_id, survivor_id = (
        (partner_id, rep_id) if archived is Side.PARTNER else (rep_id, partner_id)
    )
    gone.archive_deal(gone_id)
    survivor.edit_deal(survivor_id, {"amount": "99000"})

    first = world.ok_cycle()
    survivor.edit_deal(survivor_id, {"closedate": "2027-11-30T00:00:00.000Z"})
    later = world.settle(3)

    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert (link.partner_id, link.rep_id, link.status) == (partner_id, rep_id, "gone")
    assert first.counts["gone"] == 1
    kept = survivor.get_deal(survivor_id)
    assert kept is not None  # the surviving deal is neither deleted nor archived
    assert kept["amount"] == "99000"
    assert kept["closedate"] == "2027-11-30T00:00:00.000Z"
    assert len(survivor.deals()) == 1
    assert gone.deals() == []  # no new counterpart
    assert all(r.counts.get(f"created.{archived}", 0) == 0 for r in (first, *later))
    assert (
        world.partner.counters.get("batch_archive"),
        world.rep.counters.get("batch_archive"),
    ) == (
        None,
        None,
    )


def restricted_rep_products(*missing: str) -> PropertyDef:
    """The rep portal's product_interest without ``missing`` options."""
    return PropertyDef(
        "product_interest",
        "Product interest",
        "enumeration",
        "checkbox",
        options=tuple(Option(p, p) for p in PRODUCTS if p not in missing),
        group="shared_deals",
    )


def world_without_cms_on_the_rep_side(make_world: MakeWorld) -> World:
    """A world whose rep portal refuses the product option "HubSpot CMS"."""
    rep_properties = tuple(
        restricted_rep_products("HubSpot CMS") if p.name == "product_interest" else p
        for p in portal_specs()[1].properties
    )
    return make_world(portal_specs(rep={"properties": rep_properties}))


def test_a_rejected_value_is_dead_lettered_and_the_rest_of_the_batch_syncs(
    make_world: MakeWorld,
) -> None:
    world = world_without_cms_on_the_rep_side(make_world)
    bad_id, bad_rep_id = world.linked()
    good_pairs = [world.linked(amount=str(1000 * n)) for n in range(1, 4)]
    world.settle(1)
    world.partner.edit_deal(bad_id, {"product_interest": "HubSpot CMS", "amount": "5"})
    for n, (partner_id, _) in enumerate(good_pairs, start=1):
        world.partner.edit_deal(partner_id, {"amount": str(2000 + n)})
    new_bad = world.register(product_interest="HubSpot CMS;Sales Hub Enterprise")
    new_good = world.register(product_interest="Data Hub Starter")

    report = world.ok_cycle()

    [new_bad_rep] = world.rep_deals_for(new_bad)  # created, without the refused property
    assert "HubSpot CMS" not in str(new_bad_rep.get("product_interest") or "")
    letters = {letter.record_id: letter for _, letter in world.store.dead_letters(PAIR)}
    assert set(letters) == {bad_rep_id, new_bad_rep["hs_object_id"]}
    for letter in letters.values():
        assert "field product_interest" in letter.reason
        assert "HubSpot CMS was not one of the allowed options" in letter.reason
        assert letter.next_attempt_at is not None
    for n, (_, rep_id) in enumerate(good_pairs, start=1):
        assert world.rep_deal(rep_id)["amount"] == str(2000 + n)
    assert world.rep_deal(bad_rep_id)["amount"] == "5"  # the rest of the record synced
    assert len(world.rep_deals_for(new_good)) == 1
    assert products(world.partner_deal(bad_id)["product_interest"]) == {"HubSpot CMS"}
    assert report.counts["dead_lettered"] == 2

    # The partner fixes both values; the retry resolves the letters.
    world.partner.edit_deal(bad_id, {"product_interest": "Smart CRM Professional"})
    world.partner.edit_deal(new_bad, {"product_interest": "Sales Hub Enterprise"})
    assert world.store.retry_dead_letters_now(PAIR, None, world.ctx.clock.now()) == 2
    world.settle(2)

    assert world.store.dead_letters(PAIR) == []
    assert products(world.rep_deal(bad_rep_id)["product_interest"]) == {"Smart CRM Professional"}
    assert world.rep_deal(bad_rep_id)["amount"] == "5"
    counterparts = world.rep_deals_for(new_bad)
    assert len(counterparts) == 1
    assert products(counterparts[0]["product_interest"]) == {"Sales Hub Enterprise"}
    assert world.partner_deal(new_bad)["rep_deal_id"] == counterparts[0]["hs_object_id"]


def test_a_rejected_write_is_not_resent_before_its_retry_is_due(make_world: MakeWorld) -> None:
    world = world_without_cms_on_the_rep_side(make_world)
    partner_id, _ = world.linked()
    world.partner.edit_deal(partner_id, {"product_interest": "HubSpot CMS"})

    world.settle(4)  # all within the connector's 5 s overlap, none after the retry is due

    assert sum(world.rep.counters.get("batch_update", {}).values()) == 1
    [(_, letter)] = world.store.dead_letters(PAIR)
    assert letter.attempts == 1


def test_a_value_hubspot_refuses_holds_back_only_its_field(make_world: MakeWorld) -> None:
    """HubSpot's 400 names the property ("Property values were not valid: [...]"): the rest
    of the record is written without it, in the same cycle and in every later one."""
    world = world_without_cms_on_the_rep_side(make_world)
    partner_id, rep_id = world.linked()
    world.settle(1)
    world.partner.edit_deal(partner_id, {"product_interest": "HubSpot CMS", "amount": "7"})

    world.ok_cycle()

    assert world.rep_deal(rep_id)["amount"] == "7"
    assert "HubSpot CMS" not in str(world.rep_deal(rep_id)["product_interest"])
    [(_, letter)] = world.store.dead_letters(PAIR)
    assert letter.record_id == rep_id
    assert "field product_interest" in letter.reason
    assert "HubSpot CMS was not one of the allowed options" in letter.reason

    world.partner.edit_deal(partner_id, {"amount": "8"})
    world.settle(2)
    assert world.rep_deal(rep_id)["amount"] == "8"
    assert products(world.partner_deal(partner_id)["product_interest"]) == {"HubSpot CMS"}
