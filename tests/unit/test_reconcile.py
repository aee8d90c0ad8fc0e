"""The reconciler's decisions, one case at a time, on plain records."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sync_worker.kernel.model import Side
from sync_worker.rules.plan import BaseSnapshot
from sync_worker.rules.reconcile import reconcile
from tests.unit.support import EARLIER, LATER, NO_USERS, NOW, apply, deal, one_field


def base(**values: object) -> BaseSnapshot:
    return BaseSnapshot(values=values, agreed_at=EARLIER)


def test_neither_side_changed_plans_nothing() -> None:
    mapping = one_field()
    plan = reconcile(
        deal("p1", {"f": "x"}), deal("r1", {"f": "x"}), base(f="x"), mapping, NO_USERS, NOW
    )
    assert plan.is_noop
    assert plan.updates == {}
    assert not plan.base_changed
    assert plan.new_base == base(f="x")


@pytest.mark.parametrize(
    ("partner_value", "rep_value", "written_side", "written"),
    [("new", "old", Side.REP, "new"), ("old", "new", Side.PARTNER, "new")],
)
def test_one_side_changed_is_copied_to_the_other(
    partner_value: str, rep_value: str, written_side: Side, written: str
) -> None:
    plan = reconcile(
        deal("p1", {"f": partner_value}),
        deal("r1", {"f": rep_value}),
        base(f="old"),
        one_field(),
        NO_USERS,
        NOW,
    )
    assert plan.updates == {written_side: {"f": written}}
    (change,) = plan.changes
    assert (change.field, change.side, change.old, change.new) == ("f", written_side, "old", "new")
    assert (
        change.reason.decision
        == f"only the {written_side.other} changed: copy to the {written_side}"
    )
    assert plan.new_base.values == {"f": "new"}
    assert plan.new_base.agreed_at == NOW


def test_a_cleared_value_is_cleared_on_the_other_side() -> None:
    plan = reconcile(
        deal("p1", {"f": None}), deal("r1", {"f": "old"}), base(f="old"), one_field(), NO_USERS, NOW
    )
    assert plan.updates == {Side.REP: {"f": ""}}
    assert plan.new_base.values == {"f": None}


def test_both_changed_to_the_same_value_moves_the_base_without_writing() -> None:
    plan = reconcile(
        deal("p1", {"f": "same"}),
        deal("r1", {"f": "same"}),
        base(f="old"),
        one_field(),
        NO_USERS,
        NOW,
    )
    assert plan.updates == {}
    assert plan.is_noop
    assert plan.base_changed
    assert plan.new_base == BaseSnapshot({"f": "same"}, NOW)


def test_first_sync_fills_the_empty_side() -> None:
    plan = reconcile(deal("p1", {}), deal("r1", {"f": "x"}), None, one_field(), NO_USERS, NOW)
    assert plan.updates == {Side.PARTNER: {"f": "x"}}
    assert plan.changes[0].reason.has_base is False


def test_first_sync_with_two_values_is_a_conflict_for_the_rule() -> None:
    mapping = one_field(rule="rep_wins")
    plan = reconcile(deal("p1", {"f": "a"}), deal("r1", {"f": "b"}), None, mapping, NO_USERS, NOW)
    assert plan.updates == {Side.PARTNER: {"f": "b"}}
    assert plan.changes[0].reason.decision == "both changed: the rep wins: copy to the partner"


@pytest.mark.parametrize(
    ("rule", "expected"),
    [("partner_wins", {Side.REP: {"f": "p"}}), ("rep_wins", {Side.PARTNER: {"f": "r"}})],
)
def test_fixed_winner_rules(rule: str, expected: dict[Side, dict[str, str]]) -> None:
    plan = reconcile(
        deal("p1", {"f": "p"}),
        deal("r1", {"f": "r"}),
        base(f="b"),
        one_field(rule=rule),
        NO_USERS,
        NOW,
    )
    assert plan.updates == expected


def test_newest_wins_uses_property_history_timestamps() -> None:
    partner = deal("p1", {"f": "p"}, stamps={"f": EARLIER}, modified_at=NOW)
    rep = deal("r1", {"f": "r"}, stamps={"f": LATER}, modified_at=EARLIER)
    plan = reconcile(partner, rep, base(f="b"), one_field(), NO_USERS, NOW)
    assert plan.updates == {Side.PARTNER: {"f": "r"}}
    assert not plan.needs_history
    reason = plan.changes[0].reason
    assert (reason.partner_timestamp, reason.rep_timestamp) == (EARLIER, LATER)
    assert reason.timestamp_source == "property history"


def test_newest_wins_tie_goes_to_the_partner() -> None:
    partner = deal("p1", {"f": "p"}, stamps={"f": LATER})
    rep = deal("r1", {"f": "r"}, stamps={"f": LATER})
    plan = reconcile(partner, rep, base(f="b"), one_field(), NO_USERS, NOW)
    assert plan.updates == {Side.REP: {"f": "p"}}
    assert "tie goes to the partner" in plan.changes[0].reason.decision


def test_newest_wins_without_history_falls_back_to_modified_at_and_asks_for_history() -> None:
    partner = deal("p1", {"f": "p"}, modified_at=LATER, stamps={"f": EARLIER})
    rep = deal("r1", {"f": "r"}, modified_at=EARLIER)
    plan = reconcile(partner, rep, base(f="b"), one_field(), NO_USERS, NOW)
    assert plan.needs_history
    assert plan.updates == {Side.REP: {"f": "p"}}
    assert plan.changes[0].reason.timestamp_source == "modified_at"


def test_manual_rule_records_a_conflict_and_pushes_nothing() -> None:
    plan = reconcile(
        deal("p1", {"f": "p"}),
        deal("r1", {"f": "r"}),
        base(f="b"),
        one_field(rule="manual"),
        NO_USERS,
        NOW,
    )
    assert plan.updates == {}
    (conflict,) = plan.conflicts
    assert (conflict.partner_value, conflict.rep_value, conflict.base_value) == ("p", "r", "b")
    assert plan.new_base.values == {"f": "b"}
    assert not plan.is_noop


def test_one_way_target_edit_is_never_reverted() -> None:
    mapping = one_field(direction="partner_to_rep", rule="partner_wins")
    plan = reconcile(
        deal("p1", {"f": "b"}), deal("r1", {"f": "rep edit"}), base(f="b"), mapping, NO_USERS, NOW
    )
    assert plan.updates == {}
    assert plan.new_base.values == {"f": "b"}
    (held,) = plan.held
    assert "direction partner_to_rep" in held.reason.decision


def test_one_way_source_edit_flows() -> None:
    mapping = one_field(direction="partner_to_rep", rule="partner_wins")
    plan = reconcile(
        deal("p1", {"f": "new"}), deal("r1", {"f": "rep edit"}), base(f="b"), mapping, NO_USERS, NOW
    )
    assert plan.updates == {Side.REP: {"f": "new"}}


def test_winner_the_direction_forbids_pushes_nothing() -> None:
    mapping = one_field(direction="rep_to_partner", rule="newest_wins")
    partner = deal("p1", {"f": "p"}, stamps={"f": LATER})
    rep = deal("r1", {"f": "r"}, stamps={"f": EARLIER})
    plan = reconcile(partner, rep, base(f="b"), mapping, NO_USERS, NOW)
    assert plan.updates == {}
    assert plan.new_base.values == {"f": "b"}


def test_set_on_create_fills_an_empty_side_later() -> None:
    mapping = one_field(rule="set_on_create")
    plan = reconcile(
        deal("p1", {"f": "name"}), deal("r1", {}), base(f=None), mapping, NO_USERS, NOW
    )
    assert plan.updates == {Side.REP: {"f": "name"}}


def test_set_on_create_never_overwrites_a_value() -> None:
    mapping = one_field(rule="set_on_create")
    plan = reconcile(
        deal("p1", {"f": "renamed"}),
        deal("r1", {"f": "name"}),
        base(f="name"),
        mapping,
        NO_USERS,
        NOW,
    )
    assert plan.updates == {}
    assert plan.new_base.values == {"f": "name"}
    assert "never overwrites" in plan.held[0].reason.decision


def test_set_on_create_does_not_propagate_a_clear() -> None:
    mapping = one_field(rule="set_on_create")
    plan = reconcile(
        deal("p1", {}), deal("r1", {"f": "name"}), base(f="name"), mapping, NO_USERS, NOW
    )
    assert plan.updates == {}


def test_set_on_create_conflict_fills_only_an_empty_side() -> None:
    mapping = one_field(rule="set_on_create")
    plan = reconcile(deal("p1", {}), deal("r1", {"f": "r"}), base(f="b"), mapping, NO_USERS, NOW)
    assert plan.updates == {Side.PARTNER: {"f": "r"}}


@pytest.mark.parametrize("archived", [Side.PARTNER, Side.REP])
def test_an_archived_side_pushes_nothing(archived: Side) -> None:
    old = base(f="b")
    plan = reconcile(
        deal("p1", {"f": "p"}, archived=archived is Side.PARTNER),
        deal("r1", {"f": "r"}, archived=archived is Side.REP),
        old,
        one_field(),
        NO_USERS,
        NOW,
    )
    assert plan.archived_side is archived
    assert plan.updates == {}
    assert plan.new_base == old
    assert not plan.is_noop


def test_direction_none_is_never_reconciled() -> None:
    mapping = one_field(direction="none")
    plan = reconcile(deal("p1", {"f": "p"}), deal("r1", {"f": "r"}), None, mapping, NO_USERS, NOW)
    assert plan.is_noop
    assert plan.new_base.values == {}


def test_reason_describes_rule_values_and_decision() -> None:
    partner = deal("p1", {"f": "p"}, stamps={"f": LATER})
    rep = deal("r1", {"f": "r"}, stamps={"f": EARLIER})
    plan = reconcile(partner, rep, base(f="b"), one_field(), NO_USERS, NOW)
    text = plan.changes[0].reason.describe()
    assert text == (
        "rule newest_wins: partner='p' rep='r' base='b'; property history "
        "partner=2026-03-02T11:00:00.000Z rep=2026-03-02T10:00:00.000Z "
        "-> both changed: the partner's edit is newer: copy to the rep"
    )


def test_applying_a_plan_then_reconciling_again_plans_nothing() -> None:
    mapping = one_field(type="number")
    partner, rep = deal("p1", {"f": "12.50"}), deal("r1", {"f": "10"})
    plan = reconcile(partner, rep, base(f=Decimal(10)), mapping, NO_USERS, NOW)
    assert plan.updates == {Side.REP: {"f": "12.5"}}
    again = reconcile(
        apply(partner, plan, Side.PARTNER),
        apply(rep, plan, Side.REP),
        plan.new_base,
        mapping,
        NO_USERS,
        NOW,
    )
    assert again.is_noop
    assert not again.base_changed
