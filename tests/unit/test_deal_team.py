"""The deal team as collaborators (pure): each side's collaborators are its own, the display
shows everyone, a person's edit to the display is undone, and a pair without a team base seeds
collaborators from its text team."""

from __future__ import annotations

from typing import Any

from sync_worker.kernel.canonical import Team
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import compile_mapping
from sync_worker.rules.plan import BaseSnapshot, Directory, PairPlan, Person
from sync_worker.rules.reconcile import plan_creation, reconcile
from tests.unit.support import NOW, apply, deal, default_mapping, mapping_data

COLLABORATORS, DISPLAY = "hs_all_collaborator_owner_ids", "shared_deal_team"
ADA, GRACE, GONE = "ada@agency.test", "grace@agency.test", "gone@agency.test"
RITA, SAM = "rita@hubspot.test", "sam@hubspot.test"
PEOPLE = Directory.from_people(
    partner=[
        Person("1", ADA, "Ada Lovelace"),
        Person("2", GRACE, "Grace Hopper"),
        Person("3", GONE, "Gone Away", active=False),
    ],
    rep=[Person("9", RITA, "Rita Rep"), Person("8", SAM)],
)
MAPPING = default_mapping()


def shown(*people: str) -> str:
    names = {ADA: "Ada Lovelace", GRACE: "Grace Hopper", GONE: "Gone Away", RITA: "Rita Rep"}
    return ";".join(f"{names[e]} <{e}>" if e in names else e for e in sorted(people))


def pair(partner: dict[str, Any], rep: dict[str, Any]) -> tuple[DealRecord, DealRecord]:
    return deal("p1", partner), deal("r1", rep)


def team_base(partner: set[str], rep: set[str]) -> BaseSnapshot:
    return BaseSnapshot({"deal_team": Team(frozenset(partner), frozenset(rep))}, NOW)


def settled(partner: DealRecord, rep: DealRecord, plan: PairPlan) -> PairPlan:
    """Apply ``plan``'s writes and reconcile again: a team that has settled plans nothing."""
    return reconcile(
        apply(partner, plan, Side.PARTNER),
        apply(rep, plan, Side.REP),
        plan.new_base,
        MAPPING,
        PEOPLE,
        NOW,
    )


def test_first_sync_shows_both_sides_collaborators_on_both_sides() -> None:
    partner, rep = pair({COLLABORATORS: "1;2"}, {COLLABORATORS: ";9"})  # HubSpot's leading ';'

    plan = reconcile(partner, rep, None, MAPPING, PEOPLE, NOW)

    everyone = shown(ADA, GRACE, RITA)
    assert plan.updates == {Side.PARTNER: {DISPLAY: everyone}, Side.REP: {DISPLAY: everyone}}
    assert plan.new_base.values["deal_team"] == Team(frozenset({ADA, GRACE}), frozenset({RITA}))
    assert plan.reverted == ()
    assert settled(partner, rep, plan).is_noop


def test_each_side_edits_its_own_collaborators_and_only_the_display_is_written() -> None:
    partner, rep = pair(
        {COLLABORATORS: "1;2", DISPLAY: shown(ADA, RITA)},
        {COLLABORATORS: "8", DISPLAY: shown(ADA, RITA)},
    )

    plan = reconcile(partner, rep, team_base({ADA}, {RITA}), MAPPING, PEOPLE, NOW)

    everyone = shown(ADA, GRACE, SAM)
    assert plan.updates == {Side.PARTNER: {DISPLAY: everyone}, Side.REP: {DISPLAY: everyone}}
    assert plan.new_base.values["deal_team"] == Team(frozenset({ADA, GRACE}), frozenset({SAM}))
    assert {(c.side, c.old, c.new) for c in plan.changes} == {
        (side, frozenset({ADA, RITA}), frozenset({ADA, GRACE, SAM})) for side in Side
    }


def test_a_person_editing_the_display_gets_it_restored_and_reported() -> None:
    partner, rep = pair(
        {COLLABORATORS: "1", DISPLAY: shown(ADA, RITA)},
        {COLLABORATORS: "9", DISPLAY: f"{RITA};bob@elsewhere.test"},
    )

    plan = reconcile(partner, rep, team_base({ADA}, {RITA}), MAPPING, PEOPLE, NOW)

    assert plan.updates == {Side.REP: {DISPLAY: shown(ADA, RITA)}}
    (revert,) = plan.reverted
    assert (revert.side, revert.added, revert.removed) == (
        Side.REP,
        frozenset({"bob@elsewhere.test"}),
        frozenset({ADA}),
    )
    assert "restored" in revert.reason.decision


def test_deactivated_and_unknown_owners_are_left_off_and_collaborators_left_alone() -> None:
    partner, rep = pair(
        {COLLABORATORS: "1;3;404", DISPLAY: shown(ADA, GONE, RITA)},
        {COLLABORATORS: "9", DISPLAY: shown(ADA, GONE, RITA)},
    )

    plan = reconcile(partner, rep, team_base({ADA, GONE}, {RITA}), MAPPING, PEOPLE, NOW)

    assert plan.updates == {
        Side.PARTNER: {DISPLAY: shown(ADA, RITA)},
        Side.REP: {DISPLAY: shown(ADA, RITA)},
    }
    assert plan.reverted == ()  # nobody edited the display: a member left
    assert plan.new_base.values["deal_team"] == Team(frozenset({ADA}), frozenset({RITA}))


def test_switching_from_the_text_team_seeds_collaborators_where_the_users_exist() -> None:
    old_text = ";".join(sorted({ADA, GONE, RITA, SAM, "bob@elsewhere.test"}))
    partner, rep = pair(
        {COLLABORATORS: "2;3", DISPLAY: old_text}, {COLLABORATORS: "", DISPLAY: old_text}
    )
    # The text team's base was a list of emails: not a deal team, so this is a first sync.
    text_base = '{"format":1,"agreed_at":null,"values":{"deal_team":["ada@agency.test"]}}'
    old = BaseSnapshot.from_json(text_base, MAPPING)
    assert "deal_team" not in old.values

    plan = reconcile(partner, rep, old, MAPPING, PEOPLE, NOW)

    # Grace was already a collaborator; the deactivated owner 3 is not written back (HubSpot
    # accepts active owners only); Ada joins the partner's, Rita and Sam the rep's.
    assert plan.updates[Side.PARTNER][COLLABORATORS] == "1;2"
    assert plan.updates[Side.REP][COLLABORATORS] == "8;9"
    everyone = shown(ADA, GRACE, RITA, SAM)
    assert plan.updates[Side.PARTNER][DISPLAY] == plan.updates[Side.REP][DISPLAY] == everyone
    dropped = {(r.side, r.added) for r in plan.reverted}
    assert dropped == {(side, frozenset({GONE, "bob@elsewhere.test"})) for side in Side}
    assert settled(partner, rep, plan).is_noop


def test_a_deal_owner_counts_as_a_member_when_configured() -> None:
    data = mapping_data(
        {
            "deal_team": {
                "type": "deal_team",
                "rule": "owned_set",
                "partner": COLLABORATORS,
                "rep": COLLABORATORS,
                "display": {"partner": DISPLAY, "rep": DISPLAY},
                "deal_owner": {"partner": "hubspot_owner_id", "rep": "hubspot_owner_id"},
            }
        }
    )
    mapping = compile_mapping(data)
    partner, rep = pair({COLLABORATORS: "1"}, {"hubspot_owner_id": "8"})

    plan = reconcile(partner, rep, None, mapping, PEOPLE, NOW)

    assert plan.updates[Side.REP] == {DISPLAY: shown(ADA, SAM)}
    assert plan.new_base.values["deal_team"] == Team(frozenset({ADA}), frozenset({SAM}))


def test_a_counterpart_is_created_with_the_team_and_the_origin_shows_it_too() -> None:
    origin = deal("p1", {"dealname": "Acme", COLLABORATORS: "1", DISPLAY: f"{GRACE};{RITA}"})

    plan = plan_creation(origin, Side.PARTNER, MAPPING, PEOPLE, NOW)

    # The origin's text team seeds each account's own users: Grace on the partner deal, Rita
    # on the new rep deal. Owner ids never cross: the partner's "1" means nothing to the rep.
    assert plan.properties[COLLABORATORS] == "9"
    assert plan.properties[DISPLAY] == shown(ADA, GRACE, RITA)
    assert plan.origin_updates == {COLLABORATORS: "1;2", DISPLAY: shown(ADA, GRACE, RITA)}
    team = Team(frozenset({ADA, GRACE}), frozenset({RITA}))
    assert plan.new_base.values["deal_team"] == team
