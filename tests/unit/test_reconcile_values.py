"""Reconciling real-shaped values: noise, value maps, rejections, the owned deal team."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sync_worker.kernel.model import Side
from sync_worker.rules.mapping import compile_mapping
from sync_worker.rules.plan import BaseSnapshot, Directory
from sync_worker.rules.reconcile import reconcile
from tests.unit.support import NO_USERS, NOW, apply, deal, mapping_data, text_team_mapping

PARTNER_USERS = frozenset({"pia@agency.test", "pete@agency.test"})
REP_USERS = frozenset({"rita@hubspot.test", "rob@hubspot.test"})
USERS = Directory(partner=PARTNER_USERS, rep=REP_USERS)


def test_formatting_noise_never_causes_a_write() -> None:
    mapping = text_team_mapping()
    partner = deal(
        "p1",
        {
            "amount": "1500.00",
            "closedate": "2024-01-17T12:00:00+02:00",
            "product_interest": "cms; sales;",
            "shared_deal_team": "Pia@Agency.test;rita@hubspot.test",
        },
    )
    rep = deal(
        "r1",
        {
            "amount": "1500",
            "closedate": "1705485600000",
            "product_interest": "sales;cms",
            "shared_deal_team": "rita@hubspot.test; pia@agency.test",
        },
    )
    plan = reconcile(partner, rep, None, mapping, USERS, NOW)
    assert plan.updates == {}
    assert plan.new_base.values["amount"] == Decimal(1500)
    assert plan.new_base.values["closedate"] == datetime(2024, 1, 17, 10, tzinfo=UTC)


def test_unmappable_value_rejects_that_field_only() -> None:
    mapping = compile_mapping(
        mapping_data(
            {
                "stage": {"type": "enum", "value_map": {"partner": {"Won": "closedwon"}}},
                "amount": {"type": "number"},
            }
        )
    )
    partner = deal("p1", {"stage": "Lost", "amount": "200"})
    rep = deal("r1", {"stage": "closedwon", "amount": "100"})
    old = BaseSnapshot({"stage": "closedwon", "amount": Decimal(100)})
    plan = reconcile(partner, rep, old, mapping, NO_USERS, NOW)
    (rejection,) = plan.rejections
    assert (rejection.field, rejection.side, rejection.raw_value) == ("stage", Side.PARTNER, "Lost")
    assert rejection.reason.describe() == (
        "rule newest_wins: partner='Lost' rep='closedwon' base='closedwon' -> rejected: "
        "unmappable: 'Lost' is not in the fields.stage.value_map.partner"
    )
    assert plan.updates == {Side.REP: {"amount": "200"}}
    assert plan.new_base.values == {"stage": "closedwon", "amount": Decimal(200)}


def test_malformed_value_is_a_rejection() -> None:
    mapping = compile_mapping(mapping_data({"amount": {"type": "number"}}))
    plan = reconcile(
        deal("p1", {"amount": "abc"}), deal("r1", {"amount": "1"}), None, mapping, NO_USERS, NOW
    )
    assert plan.updates == {}
    assert [(r.side, r.raw_value) for r in plan.rejections] == [(Side.PARTNER, "abc")]
    assert plan.rejections[0].reason.decision == "rejected: not a number: 'abc'"


def test_value_maps_translate_between_vocabularies() -> None:
    mapping = compile_mapping(
        mapping_data(
            {
                "stage": {
                    "type": "enum",
                    "value_map": {
                        "partner": {"Gewonnen": "won", "Offen": "open"},
                        "rep": {"closedwon": "won", "appointmentscheduled": "open"},
                    },
                }
            }
        )
    )
    partner, rep = deal("p1", {"stage": "Gewonnen"}), deal("r1", {"stage": "appointmentscheduled"})
    plan = reconcile(partner, rep, BaseSnapshot({"stage": "open"}), mapping, NO_USERS, NOW)
    assert plan.updates == {Side.REP: {"stage": "closedwon"}}
    assert plan.changes[0].new == "won"
    again = reconcile(
        apply(partner, plan, Side.PARTNER),
        apply(rep, plan, Side.REP),
        plan.new_base,
        mapping,
        NO_USERS,
        NOW,
    )
    assert again.is_noop


def test_a_value_the_target_map_cannot_hold_is_rejected_on_the_target() -> None:
    mapping = compile_mapping(
        mapping_data({"stage": {"type": "enum", "value_map": {"partner": {"Offen": "open"}}}})
    )
    plan = reconcile(
        deal("p1", {"stage": "Offen"}),
        deal("r1", {"stage": "won"}),
        BaseSnapshot({"stage": "open"}),
        mapping,
        NO_USERS,
        NOW,
    )
    assert plan.updates == {}
    (rejection,) = plan.rejections
    assert (rejection.side, rejection.raw_value) == (Side.PARTNER, "won")
    assert rejection.reason.decision == (
        "only the rep changed: copy to the partner, but rejected: "
        "unmappable: 'won' has no entry in the fields.stage.value_map.partner"
    )
    assert (rejection.reason.rep_value, rejection.reason.base_value) == ("won", "open")
    assert plan.new_base.values == {"stage": "open"}


def team(*emails: str) -> str:
    return ";".join(emails)


def test_owned_set_partner_adds_its_own_member_which_reaches_the_rep() -> None:
    old = BaseSnapshot({"deal_team": frozenset({"pia@agency.test", "rita@hubspot.test"})})
    partner = deal(
        "p1", {"shared_deal_team": team("pia@agency.test", "pete@agency.test", "rita@hubspot.test")}
    )
    rep = deal("r1", {"shared_deal_team": team("pia@agency.test", "rita@hubspot.test")})
    plan = reconcile(partner, rep, old, text_team_mapping(), USERS, NOW)
    assert plan.updates == {
        Side.REP: {"shared_deal_team": "pete@agency.test;pia@agency.test;rita@hubspot.test"}
    }
    assert plan.reverted == ()


def test_owned_set_partner_edits_to_rep_members_are_reverted_and_reported() -> None:
    old = BaseSnapshot({"deal_team": frozenset({"pia@agency.test", "rita@hubspot.test"})})
    # the partner removed rita (a rep user) and added rob (a rep user)
    partner = deal("p1", {"shared_deal_team": team("pia@agency.test", "rob@hubspot.test")})
    rep = deal("r1", {"shared_deal_team": team("pia@agency.test", "rita@hubspot.test")})
    plan = reconcile(partner, rep, old, text_team_mapping(), USERS, NOW)
    assert plan.updates == {Side.PARTNER: {"shared_deal_team": "pia@agency.test;rita@hubspot.test"}}
    (revert,) = plan.reverted
    assert revert.side is Side.PARTNER
    assert revert.added == frozenset({"rob@hubspot.test"})
    assert revert.removed == frozenset({"rita@hubspot.test"})
    assert "the partner edited the rep's members" in revert.reason.decision


def test_owned_set_merges_both_sides_own_edits_at_once() -> None:
    old = BaseSnapshot({"deal_team": frozenset({"pia@agency.test", "rita@hubspot.test"})})
    partner = deal("p1", {"shared_deal_team": team("pete@agency.test", "rita@hubspot.test")})
    rep = deal(
        "r1", {"shared_deal_team": team("pia@agency.test", "rita@hubspot.test", "rob@hubspot.test")}
    )
    plan = reconcile(partner, rep, old, text_team_mapping(), USERS, NOW)
    merged = "pete@agency.test;rita@hubspot.test;rob@hubspot.test"
    assert plan.updates == {
        Side.PARTNER: {"shared_deal_team": merged},
        Side.REP: {"shared_deal_team": merged},
    }
    assert plan.new_base.values["deal_team"] == frozenset(merged.split(";"))


def test_owned_set_shared_members_merge_three_way() -> None:
    old = BaseSnapshot({"deal_team": frozenset({"guest@else.test"})})
    partner = deal("p1", {"shared_deal_team": team("guest@else.test", "new@else.test")})
    rep = deal("r1", {"shared_deal_team": None})  # the rep removed the shared guest
    plan = reconcile(partner, rep, old, text_team_mapping(), USERS, NOW)
    assert plan.updates == {
        Side.PARTNER: {"shared_deal_team": "new@else.test"},
        Side.REP: {"shared_deal_team": "new@else.test"},
    }
    assert plan.reverted == ()


def test_base_json_round_trips_through_the_mapping() -> None:
    mapping = text_team_mapping()
    snapshot = BaseSnapshot(
        {
            "dealname": "Acme",
            "amount": Decimal("1500.50"),
            "closedate": datetime(2024, 1, 17, 10, tzinfo=UTC),
            "product_interest": frozenset({"cms", "sales"}),
            "deal_team": frozenset({"pia@agency.test"}),
            "pipeline": None,
        },
        agreed_at=NOW,
    )
    text = snapshot.to_json()
    assert BaseSnapshot.from_json(text, mapping) == snapshot
    assert '"amount":"1500.5"' in text
    assert '"product_interest":["cms","sales"]' in text


def test_base_json_drops_fields_that_no_longer_decode() -> None:
    mapping = text_team_mapping()
    text = '{"format":1,"agreed_at":null,"values":{"amount":["x"],"gone":"1","dealname":"A"}}'
    assert BaseSnapshot.from_json(text, mapping) == BaseSnapshot({"dealname": "A"})


def test_base_json_that_is_not_a_base_is_refused() -> None:
    with pytest.raises(ValueError, match="not a stored base"):
        BaseSnapshot.from_json('["amount"]', text_team_mapping())
