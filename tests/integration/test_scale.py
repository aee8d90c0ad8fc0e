"""Many shared deals: 1,500 linked pairs with a mix of edits on both sides converge in a few
cycles, read back in full from both portals. The deals were imported with a text team: the
first cycle seeds their collaborators (the migration), later edits change collaborators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from sync_worker.connectors.hubspot.standard import PRODUCTS
from sync_worker.kernel.model import Side
from tests.integration.collaborators import (
    COLLABORATORS,
    collaborators,
)
from tests.integration.world import (
    ADA,
    GRACE,
    PAIR,
    RITA,
    SAM,
    TWO_WAY,
    World,
    members,
    products,
    team,
    tick,
)

PAIRS = 1_500


def load_linked_pairs(world: World, count: int) -> list[tuple[str, str]]:
    """``count`` consistent, linked shared deals imported on both sides a day ago."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    rows = [
        {
            "dealname": f"Deal {n}",
            "amount": str(1000 + n),
            "closedate": (datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=n % 300)).isoformat(),
            "product_interest": PRODUCTS[n % len(PRODUCTS)],
            "shared_deal_team": team(ADA, RITA),
        }
        for n in range(count)
    ]
    partner_ids = world.partner.bulk_load(rows, modified_at=yesterday)
    rep_rows = [
        {**row, "partner_deal_id": pid, "shared_partner_account": PAIR}
        for row, pid in zip(rows, partner_ids, strict=True)
    ]
    rep_ids = world.rep.bulk_load(rep_rows, modified_at=yesterday)
    for pid, rid in zip(partner_ids, rep_ids, strict=True):
        world.partner.edit_deal(pid, {"rep_deal_id": rid}, source="INTEGRATION", at=yesterday)
    return list(zip(partner_ids, rep_ids, strict=True))


def same_everywhere(world: World) -> list[str]:
    """Problems: linked deals whose two-way fields differ (read from every deal of both sides)."""
    rep_by_id = {d["hs_object_id"]: d for d in world.rep.deals()}
    problems = []
    for partner in world.partner.deals():
        rep = rep_by_id[partner["rep_deal_id"]]
        for name in TWO_WAY:
            normal = members if name == "shared_deal_team" else products
            if name in ("amount", "closedate"):
                equal = partner.get(name) == rep.get(name)
            else:
                equal = normal(partner.get(name)) == normal(rep.get(name))
            if not equal:
                problems.append(
                    f"{partner['hs_object_id']}.{name}: {partner.get(name)} / {rep.get(name)}"
                )
    return problems


Expected = dict[tuple[Side, str], dict[str, str]]


def edit_a_mix(world: World, pairs: list[tuple[str, str]]) -> Expected:
    """People edit five of every six pairs; returns the values each edited deal must end with."""
    expected: Expected = {}
    for n, (pid, rid) in enumerate(pairs):
        kind = n % 6
        if kind == 0:  # partner-only edit
            world.partner.edit_deal(pid, {"amount": str(90_000 + n)})
            expected[(Side.PARTNER, pid)] = {"amount": str(90_000 + n)}
        elif kind == 1:  # rep-only edit
            world.rep.edit_deal(rid, {"closedate": "2028-01-31T00:00:00.000Z"})
            expected[(Side.PARTNER, pid)] = {"closedate": "2028-01-31T00:00:00.000Z"}
        elif kind == 2:  # different fields on each side
            world.partner.edit_deal(pid, {"product_interest": "HubSpot CMS;Data Hub Starter"})
            world.rep.edit_deal(rid, {"amount": "7"})
            expected[(Side.PARTNER, pid)] = {"product_interest": "HubSpot CMS;Data Hub Starter"}
            expected[(Side.REP, rid)] = {"amount": "7"}
        elif kind == 3:  # each side adds its own team member (a deal collaborator)
            world.partner.edit_deal(pid, {COLLABORATORS: collaborators(ADA, GRACE)})
            world.rep.edit_deal(rid, {COLLABORATORS: collaborators(RITA, SAM)})
            expected[(Side.REP, rid)] = {"shared_deal_team": team(ADA, GRACE, RITA, SAM)}
        elif kind == 4:  # a conflict: the rep's edit (below) is the newer one
            world.partner.edit_deal(pid, {"amount": "111"})
            expected[(Side.PARTNER, pid)] = {"amount": "222"}
    tick()
    for n, (_, rid) in enumerate(pairs):
        if n % 6 == 4:
            world.rep.edit_deal(rid, {"amount": "222"})
    return expected


def assert_values(world: World, expected: Expected) -> None:
    for (side, deal_id), values in expected.items():
        deal = world.partner_deal(deal_id) if side is Side.PARTNER else world.rep_deal(deal_id)
        for name, value in values.items():
            if name == "shared_deal_team":
                assert members(deal[name]) == members(value), (deal_id, name)
            elif name == "product_interest":
                assert products(deal[name]) == products(value), (deal_id, name)
            else:
                assert deal[name] == value, (deal_id, name)


@pytest.mark.slow
def test_many_linked_pairs_with_mixed_edits_converge(world: World) -> None:
    pairs = load_linked_pairs(world, PAIRS)
    with capture_logs():  # thousands of events: capture them rather than render them
        world.ok_cycle()
    assert world.store.count_links(PAIR) == PAIRS
    expected = edit_a_mix(world, pairs)

    with capture_logs() as logs:
        reports = [world.ok_cycle() for _ in range(3)]

    assert same_everywhere(world) == []
    assert_values(world, expected)
    assert reports[-1].counts.get("updated.partner", 0) == 0
    assert reports[-1].counts.get("updated.rep", 0) == 0
    assert len(world.partner.deals()) == len(world.rep.deals()) == PAIRS
    assert world.store.dead_letters(PAIR) == []
    changed = [e for e in logs if e["event"] == "field_changed"]
    assert len(changed) == sum(r.counts.get("fields_changed", 0) for r in reports) > 0
