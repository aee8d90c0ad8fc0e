"""The default deal team, over the sandbox: each account's members are its own HubSpot deal
collaborators (owner ids, notified by HubSpot), the whole team is shown on both sides in the
display property, and a person's edit to that display is restored and logged."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

from structlog.testing import capture_logs

from hubspot_sandbox import Owner
from sync_worker.mappings import builtin_mapping_path
from sync_worker.ops.explain import explain
from sync_worker.rules.mapping import compile_mapping
from sync_worker.sync.engine import CycleOptions
from tests.integration.collaborators import (
    COLLABORATORS,
    OWNER_IDS,
    collaborator_emails,
    collaborators,
)
from tests.integration.world import (
    ADA,
    ALAN,
    GRACE,
    PAIR,
    PAULA,
    RITA,
    SAM,
    World,
    load_default_mapping,
    load_text_team_mapping,
    members,
    team,
)

DISPLAY = "shared_deal_team"
NAMES = {
    ADA: "Ada Lovelace",
    GRACE: "Grace Hopper",
    ALAN: "Alan Turing",
    RITA: "Rita Rep",
    SAM: "Sam Sales",
    PAULA: "Paula Partnermgr",
}


def shown(*emails: str) -> str:
    """The display the worker writes: ``Name <email>``, sorted by email."""
    return ";".join(f"{NAMES[e]} <{e}>" for e in sorted(emails))


def teams(world: World, partner_id: str, rep_id: str) -> tuple[str | None, str | None]:
    return world.partner_deal(partner_id).get(DISPLAY), world.rep_deal(rep_id).get(DISPLAY)


def crew(world: World, partner_id: str, rep_id: str) -> tuple[set[str], set[str]]:
    """Each side's collaborators, as emails."""
    return (
        collaborator_emails(world.partner_deal(partner_id).get(COLLABORATORS)),
        collaborator_emails(world.rep_deal(rep_id).get(COLLABORATORS)),
    )


def collaborator_writes(world: World, partner_id: str, rep_id: str) -> int:
    """History entries the worker (the API) wrote to either side's collaborators."""
    return sum(
        1
        for portal, deal_id in ((world.partner, partner_id), (world.rep, rep_id))
        for entry in portal.history(deal_id, COLLABORATORS)
        if entry["sourceType"] == "API"
    )


def linked_team(world: World, partner: set[str], rep: set[str]) -> tuple[str, str]:
    """A linked shared deal whose collaborators are ``partner`` and ``rep``, settled."""
    partner_id, rep_id = world.linked(
        shared_deal_team="", **{COLLABORATORS: collaborators(*partner)}
    )
    world.rep.edit_deal(rep_id, {COLLABORATORS: collaborators(*rep)})
    world.settle(2)
    assert teams(world, partner_id, rep_id) == (shown(*partner, *rep),) * 2
    return partner_id, rep_id


def test_each_side_adds_and_removes_its_own_collaborators_at_the_same_time(world: World) -> None:
    partner_id, rep_id = linked_team(world, {ADA, GRACE}, {RITA})
    world.partner.edit_deal(partner_id, {COLLABORATORS: collaborators(GRACE, ALAN)})
    world.rep.edit_deal(rep_id, {COLLABORATORS: collaborators(SAM, PAULA)})

    with capture_logs() as logs:
        world.settle(3)

    assert teams(world, partner_id, rep_id) == (shown(GRACE, ALAN, SAM, PAULA),) * 2
    assert crew(world, partner_id, rep_id) == ({GRACE, ALAN}, {SAM, PAULA})
    assert collaborator_writes(world, partner_id, rep_id) == 0  # each side's own choice
    assert [e for e in logs if e["event"] == "owned_set_edit_reverted"] == []
    # ...and settled: the worker's own display writes come back and plan nothing.
    assert world.ok_cycle().counts.get("fields_changed", 0) == 0


def test_a_person_editing_the_display_gets_it_restored_and_logged(world: World) -> None:
    partner_id, rep_id = linked_team(world, {ADA}, {RITA})
    world.rep.edit_deal(rep_id, {DISPLAY: team(RITA, PAULA)})  # drops Ada, adds Paula

    with capture_logs() as logs:
        world.settle(3)

    assert teams(world, partner_id, rep_id) == (shown(ADA, RITA),) * 2
    assert crew(world, partner_id, rep_id) == ({ADA}, {RITA})  # the display changes no one
    (revert,) = [e for e in logs if e["event"] == "owned_set_edit_reverted"]
    assert (revert["edited_by"], revert["field"]) == ("rep", "deal_team")
    assert (revert["added"], revert["removed"]) == ([PAULA], [ADA])
    assert (revert["partner_id"], revert["rep_id"]) == (partner_id, rep_id)


def test_a_member_deactivated_in_one_account_leaves_the_team_shown(world: World) -> None:
    # The owners list is cached per credential for 5 minutes; here it is reloaded on every use,
    # as if those minutes had passed between the deactivation and the next change.
    world.ctx_override(metadata_ttl_seconds=0.0)
    partner_id, rep_id = linked_team(world, {ADA, GRACE}, {RITA})
    world.partner.deactivate_owner(OWNER_IDS[GRACE])
    world.rep.edit_deal(rep_id, {COLLABORATORS: collaborators(RITA, SAM)})

    with capture_logs() as logs:
        world.settle(3)

    assert teams(world, partner_id, rep_id) == (shown(ADA, RITA, SAM),) * 2
    # Grace stays a collaborator as HubSpot holds it: the worker never edits a side's choice
    # (and could not write her id back: HubSpot accepts active owners only).
    assert crew(world, partner_id, rep_id) == ({ADA, GRACE}, {RITA, SAM})
    deactivated = [e for e in logs if e["event"] == "deal_team_owner_deactivated"]
    assert {(e["side"], e["deal_id"], e["email"]) for e in deactivated} == {
        ("partner", partner_id, GRACE)
    }
    assert all(e["outcome"] == "ok" for e in logs if e["event"] == "cycle_finished")
    team_now = next(f for f in explain(world.ctx, partner_id).fields if f.field == "deal_team")
    assert (team_now.partner_value, team_now.rep_value) == (
        f"{ADA};{GRACE} (deactivated)",
        f"{RITA};{SAM}",
    )
    assert "in sync" in team_now.decision


def test_the_first_sync_of_deals_that_already_have_collaborators_on_both_sides(
    world: World,
) -> None:
    partner_id = world.register(shared_deal_team="", **{COLLABORATORS: collaborators(ADA, GRACE)})
    rep_id = world.rep.create_deal(
        {
            "dealname": "Initech - CRM rollout",
            "shared_partner_account": PAIR,
            "partner_deal_id": f"{PAIR}:{partner_id}",
            COLLABORATORS: collaborators(RITA),
        }
    )
    world.partner.edit_deal(partner_id, {"rep_deal_id": rep_id})

    world.settle(3)

    link = world.store.find_link(PAIR, partner_id)
    assert link is not None
    assert link.rep_id == rep_id
    assert teams(world, partner_id, rep_id) == (shown(ADA, GRACE, RITA),) * 2
    assert crew(world, partner_id, rep_id) == ({ADA, GRACE}, {RITA})
    assert collaborator_writes(world, partner_id, rep_id) == 0


def test_a_new_collaborator_the_cached_owners_do_not_know_yet_is_shown(world: World) -> None:
    partner_id, rep_id = linked_team(world, {ADA}, {RITA})
    newcomer = "noor.new@agency.example"
    world.partner.add_owner(Owner("71000099", newcomer, "Noor", "New", 8100099))
    world.partner.edit_deal(partner_id, {COLLABORATORS: f"{OWNER_IDS[ADA]};71000099"})

    world.settle(2)

    expected = f"Ada Lovelace <{ADA}>;Noor New <{newcomer}>;Rita Rep <{RITA}>"
    assert teams(world, partner_id, rep_id) == (expected, expected)


def test_switching_from_the_text_team_seeds_collaborators_and_loses_no_one(world: World) -> None:
    world.mapping = load_text_team_mapping()
    partner_id, rep_id = world.linked(shared_deal_team=team(ADA, GRACE))
    world.rep.edit_deal(rep_id, {"shared_deal_team": team(ADA, GRACE, RITA, "ex@elsewhere.test")})
    world.settle(2)
    guest = "ex@elsewhere.test"  # a user of neither account: the text team kept them
    assert members(world.partner_deal(partner_id)[DISPLAY]) == {ADA, GRACE, RITA, guest}
    assert crew(world, partner_id, rep_id) == (set(), set())

    # The deployment switches to the default mapping, then backfills (the README's steps).
    switched = world.context(mapping=load_default_mapping())
    with capture_logs() as logs:
        report = world.cycle(switched, CycleOptions(mode="backfill", since=LONG_AGO))
    assert report.outcome == "ok"
    for _ in range(2):
        assert world.cycle(switched).outcome == "ok"

    assert crew(world, partner_id, rep_id) == ({ADA, GRACE}, {RITA})
    assert teams(world, partner_id, rep_id) == (shown(ADA, GRACE, RITA),) * 2
    seeded = [e for e in logs if e["event"] == "field_changed" and "seeds" in e["reason"]]
    assert {e["side"] for e in seeded} == {"partner", "rep"}
    # The one person who cannot be a collaborator is reported, not silently lost.
    dropped = [e for e in logs if e["event"] == "owned_set_edit_reverted"]
    assert {(e["edited_by"], tuple(e["added"])) for e in dropped} == {
        ("partner", (guest,)),
        ("rep", (guest,)),
    }
    assert all("active users of neither account" in e["reason"] for e in dropped)
    # Settled: the next cycles write nothing.
    assert world.cycle(switched).counts.get("fields_changed", 0) == 0


def test_a_pair_not_backfilled_after_the_switch_migrates_when_next_synced(
    world: World,
) -> None:
    world.mapping = load_text_team_mapping()
    partner_id, rep_id = world.linked(shared_deal_team=team(ADA, RITA, "ex@elsewhere.test"))
    world.settle(2)

    switched = world.context(mapping=load_default_mapping())
    world.partner.edit_deal(partner_id, {"amount": "51000"})
    with capture_logs() as logs:
        for _ in range(3):
            assert world.cycle(switched).outcome == "ok"

    assert crew(world, partner_id, rep_id) == ({ADA}, {RITA})
    assert teams(world, partner_id, rep_id) == (shown(ADA, RITA),) * 2
    (dropped,) = {tuple(e["added"]) for e in logs if e["event"] == "owned_set_edit_reverted"}
    assert dropped == ("ex@elsewhere.test",)


LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def test_the_connector_lists_owners_with_names_and_sees_deactivations_on_refresh(
    world: World,
) -> None:
    connector = world.connector("partner")
    before = {u.email: u for u in connector.owners()}
    assert before[GRACE].name == "Grace Hopper"
    assert before[GRACE].active
    world.partner.deactivate_owner(OWNER_IDS[GRACE])

    assert connector.owners() == tuple(before.values())  # cached per credential (5 minutes)
    after = {u.email: u for u in connector.owners(refresh=True)}

    assert not after[GRACE].active
    assert after[GRACE].id == OWNER_IDS[GRACE]
    assert GRACE not in {u.email for u in connector.users()}  # the active users' directory


def test_with_deal_owner_configured_each_sides_owner_is_on_the_team(world: World) -> None:
    text = builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8")
    assert '# deal_owner.partner = "hubspot_owner_id"' in text
    text = text.replace("# deal_owner.", "deal_owner.")
    world.mapping = compile_mapping(tomllib.loads(text), context={"partner_account": PAIR})
    partner_id, rep_id = world.linked(
        shared_deal_team="",
        hubspot_owner_id=OWNER_IDS[ADA],
        **{COLLABORATORS: collaborators(GRACE)},
    )
    world.rep.edit_deal(rep_id, {"hubspot_owner_id": OWNER_IDS[RITA]})
    world.settle(2)
    assert teams(world, partner_id, rep_id) == (shown(ADA, GRACE, RITA),) * 2

    world.rep.edit_deal(rep_id, {"hubspot_owner_id": OWNER_IDS[SAM]})  # the rep reassigns
    world.settle(2)

    assert teams(world, partner_id, rep_id) == (shown(ADA, GRACE, SAM),) * 2
    assert crew(world, partner_id, rep_id) == ({GRACE}, set())  # owners are not collaborators
