"""Many partner accounts share the rep CRM: each pair syncs only its own shared deals."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from hubspot_sandbox import Portal, PortalSpec
from sync_worker.sync.context import PairContext
from tests.integration.conftest import MakeWorld, portal_specs
from tests.integration.world import (
    PAIR,
    World,
    deal_props,
    load_default_mapping,
    named_partner_deal,
)

OTHER = "agency-002"


def with_second_partner(id_base: int | None = None) -> list[PortalSpec]:
    """The demo portals plus a second partner account, "partner2" (agency-002)."""
    partner, rep = portal_specs()
    second = replace(partner, name="partner2", token="demo-partner2-token", id_base=id_base)
    return [partner, second, rep]


def second_pair(world: World) -> tuple[Portal, PairContext]:
    portal = world.sandbox.portal("partner2")
    ctx = world.context(
        OTHER, partner=world.connector("partner2"), mapping=load_default_mapping(OTHER)
    )
    return portal, ctx


def register_on(portal: Portal, **props: str) -> str:
    deal_id = portal.create_deal(deal_props(**props))
    portal.register_deal(deal_id)
    return deal_id


def run_both(world: World, other: PairContext, cycles: int = 3) -> None:
    for _ in range(cycles):
        assert world.cycle().outcome == "ok"
        assert world.cycle(other).outcome == "ok"


def test_pairs_sharing_the_rep_crm_sync_only_their_own_deals(make_world: MakeWorld) -> None:
    world = make_world(with_second_partner())
    partner2, other = second_pair(world)
    mine = world.register(dealname="Registered by agency-001")
    theirs = register_on(partner2, dealname="Registered by agency-002")
    referred_mine = world.refer(PAIR, dealname="Referred to agency-001")
    referred_theirs = world.refer(OTHER, dealname="Referred to agency-002")

    run_both(world, other)

    [rep_mine] = world.rep_deals_for(mine)
    [rep_theirs] = world.rep_deals_for(theirs)
    assert rep_mine["shared_partner_account"] == PAIR
    assert rep_theirs["shared_partner_account"] == OTHER
    assert sorted(str(d["dealname"]) for d in world.partner.deals()) == [
        "Referred to agency-001",
        "Registered by agency-001",
    ]
    assert sorted(str(d["dealname"]) for d in partner2.deals()) == [
        "Referred to agency-002",
        "Registered by agency-002",
    ]
    assert named_partner_deal(world.rep_deal(referred_mine)["partner_deal_id"]) in {
        d["hs_object_id"] for d in world.partner.deals()
    }
    assert named_partner_deal(world.rep_deal(referred_theirs)["partner_deal_id"]) in {
        d["hs_object_id"] for d in partner2.deals()
    }

    world.rep.edit_deal(str(rep_theirs["hs_object_id"]), {"amount": "4242"})
    run_both(world, other, cycles=2)

    assert partner2.get_deal(theirs) is not None
    assert (partner2.get_deal(theirs) or {})["amount"] == "4242"
    assert world.partner_deal(mine)["amount"] == "48000"


def test_partner_accounts_with_colliding_deal_ids_get_separate_counterparts(
    make_world: MakeWorld,
) -> None:
    # The first portal numbers its deals from 10**10 + 1; the second one now does too.
    world = make_world(with_second_partner(id_base=10**10))
    partner2, other = second_pair(world)
    mine = world.register(dealname="Registered by agency-001", amount="1000")
    theirs = register_on(partner2, dealname="Registered by agency-002", amount="2000")
    assert mine == theirs

    run_both(world, other)

    rep_deals = world.rep.deals()
    assert len(rep_deals) == 2
    by_account = {d["shared_partner_account"]: d for d in rep_deals}
    assert by_account[PAIR]["amount"] == "1000"
    assert by_account[OTHER]["amount"] == "2000"
    assert world.partner_deal(mine)["rep_deal_id"] == by_account[PAIR]["hs_object_id"]
    assert (partner2.get_deal(theirs) or {})["rep_deal_id"] == by_account[OTHER]["hs_object_id"]


def test_pairs_syncing_at_the_same_time_share_one_state_file(make_world: MakeWorld) -> None:
    world = make_world(with_second_partner())
    partner2 = world.sandbox.portal("partner2")
    mine = [world.register(dealname=f"Mine {n}") for n in range(40)]
    theirs = [register_on(partner2, dealname=f"Theirs {n}") for n in range(40)]
    mine_referred = [world.refer(PAIR, dealname=f"Referred mine {n}") for n in range(20)]
    theirs_referred = [world.refer(OTHER, dealname=f"Referred theirs {n}") for n in range(20)]
    # Small pages: many page commits from both threads interleave in the one SQLite file.
    contexts = [
        world.context(
            partner=world.connector("partner", page_size=5),
            rep=world.connector("rep", page_size=5),
        ),
        world.context(
            OTHER,
            partner=world.connector("partner2", page_size=5),
            rep=world.connector("rep", page_size=5),
            mapping=load_default_mapping(OTHER),
        ),
    ]

    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(3):
            reports = list(pool.map(world.cycle, contexts))
            assert [r.outcome for r in reports] == ["ok", "ok"], [r.error for r in reports]

    assert world.store.count_links(PAIR) == 60
    assert world.store.count_links(OTHER) == 60
    for deal_id in mine + theirs:
        assert len(world.rep_deals_for(deal_id)) == 1
    assert len(world.partner.deals()) == len(partner2.deals()) == 60
    assert len(world.rep.deals()) == 120
    for rep_id in mine_referred:
        assert named_partner_deal(world.rep_deal(rep_id)["partner_deal_id"]) in {
            d["hs_object_id"] for d in world.partner.deals()
        }
    for rep_id in theirs_referred:
        assert named_partner_deal(world.rep_deal(rep_id)["partner_deal_id"]) in {
            d["hs_object_id"] for d in partner2.deals()
        }
