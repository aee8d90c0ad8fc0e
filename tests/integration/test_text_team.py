"""The text-team mapping (``hubspot_shared_deals_text_team``): the deal team is an owned set of
emails in a text property: each account adds and removes only its own users, the union shows on
both sides, and an edit to the other account's members is reverted and logged."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from sync_worker.kernel.model import Side
from tests.integration.world import (
    ADA,
    ALAN,
    GRACE,
    PAULA,
    RITA,
    SAM,
    World,
    load_text_team_mapping,
    members,
    team,
)


@pytest.fixture
def world(world: World) -> World:
    world.mapping = load_text_team_mapping()
    return world


CASES = [
    # (who edits, team they save, team both sides end with, the other side's members touched)
    pytest.param(
        Side.PARTNER, {ADA, RITA, GRACE}, {ADA, RITA, GRACE}, set(), id="partner-adds-own"
    ),
    pytest.param(Side.PARTNER, {RITA}, {RITA}, set(), id="partner-removes-own"),
    pytest.param(Side.REP, {ADA, RITA, SAM}, {ADA, RITA, SAM}, set(), id="rep-adds-own"),
    pytest.param(Side.REP, {ADA}, {ADA}, set(), id="rep-removes-own"),
    pytest.param(Side.PARTNER, {ADA, RITA, PAULA}, {ADA, RITA}, {PAULA}, id="partner-adds-reps"),
    pytest.param(Side.PARTNER, {ADA}, {ADA, RITA}, {RITA}, id="partner-removes-reps"),
    pytest.param(Side.REP, {ADA, RITA, ALAN}, {ADA, RITA}, {ALAN}, id="rep-adds-partners"),
    pytest.param(Side.REP, {RITA}, {ADA, RITA}, {ADA}, id="rep-removes-partners"),
    pytest.param(
        Side.PARTNER, {RITA, GRACE, PAULA}, {RITA, GRACE}, {PAULA}, id="partner-own-and-foreign"
    ),
]


@pytest.mark.parametrize(("editor", "saved", "expected", "foreign"), CASES)
def test_each_side_owns_its_members(
    world: World, editor: Side, saved: set[str], expected: set[str], foreign: set[str]
) -> None:
    partner_id, rep_id = world.linked(shared_deal_team=ADA)
    world.rep.edit_deal(rep_id, {"shared_deal_team": team(ADA, RITA)})
    world.settle(2)
    assert members(world.partner_deal(partner_id)["shared_deal_team"]) == {ADA, RITA}
    portal, deal_id = (world.partner, partner_id) if editor is Side.PARTNER else (world.rep, rep_id)
    portal.edit_deal(deal_id, {"shared_deal_team": team(*saved)})

    with capture_logs() as logs:
        world.settle(3)

    assert members(world.partner_deal(partner_id)["shared_deal_team"]) == expected
    assert members(world.rep_deal(rep_id)["shared_deal_team"]) == expected
    reverts = [e for e in logs if e["event"] == "owned_set_edit_reverted"]
    if foreign:
        assert len(reverts) == 1
        assert reverts[0]["edited_by"] == str(editor)
        assert reverts[0]["partner_id"] == partner_id
        assert reverts[0]["rep_id"] == rep_id
        assert reverts[0]["field"] == "deal_team"
        assert set(reverts[0]["added"]) | set(reverts[0]["removed"]) == foreign
    else:
        assert reverts == []


def test_both_sides_edit_their_own_members_in_the_same_cycle(world: World) -> None:
    partner_id, rep_id = world.linked(shared_deal_team=team(ADA, GRACE))
    world.rep.edit_deal(rep_id, {"shared_deal_team": team(ADA, GRACE, RITA)})
    world.settle(2)
    world.partner.edit_deal(partner_id, {"shared_deal_team": team(ADA, RITA, ALAN)})
    world.rep.edit_deal(rep_id, {"shared_deal_team": team(ADA, GRACE, SAM)})

    with capture_logs() as logs:
        world.settle(3)

    expected = {ADA, ALAN, SAM}
    assert members(world.partner_deal(partner_id)["shared_deal_team"]) == expected
    assert members(world.rep_deal(rep_id)["shared_deal_team"]) == expected
    assert [e for e in logs if e["event"] == "owned_set_edit_reverted"] == []
