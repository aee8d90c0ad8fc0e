"""``holding_back``: a plan minus the writes a CRM refused, with those fields' base kept."""

from __future__ import annotations

from decimal import Decimal

from sync_worker.kernel.model import Side
from sync_worker.rules.plan import BaseSnapshot, holding_back
from sync_worker.rules.reconcile import reconcile
from tests.unit.support import EARLIER, LATER, NO_USERS, NOW, deal, default_mapping


def test_the_refused_field_keeps_its_base_and_the_rest_of_the_plan_stands() -> None:
    mapping = default_mapping()
    old = BaseSnapshot(
        {"amount": Decimal(100), "closedate": EARLIER.replace(hour=0)}, agreed_at=EARLIER
    )
    partner = deal(
        "1",
        {"amount": "150", "closedate": "1999-01-01T00:00:00Z", "rep_deal_id": "9"},
        modified_at=LATER,
        stamps={"amount": LATER, "closedate": LATER},
    )
    rep = deal(
        "9",
        {"amount": "100", "closedate": EARLIER.replace(hour=0).isoformat(),
         "partner_deal_id": "acme:1", "shared_partner_account": "acme"},
        stamps={"amount": EARLIER, "closedate": EARLIER},
    )  # fmt: skip
    plan = reconcile(partner, rep, old, mapping, NO_USERS, NOW)
    assert set(plan.updates[Side.REP]) == {"amount", "closedate"}

    held = holding_back(plan, Side.REP, {"closedate": "closedate"}, old, "INVALID_DATE: too old")

    assert held.updates == {Side.REP: {"amount": "150"}}
    assert held.new_base.values["closedate"] == old.values["closedate"]
    assert held.new_base.values["amount"] == Decimal(150)
    assert held.base_changed
    assert [c.field for c in held.changes] == ["amount"]
    [rejection] = held.rejections
    assert (rejection.field, rejection.side) == ("closedate", Side.REP)
    assert rejection.raw_value == plan.updates[Side.REP]["closedate"]
    assert "but the CRM refused it: INVALID_DATE: too old" in rejection.reason.describe()


def test_without_a_base_the_refused_field_stays_unagreed() -> None:
    mapping = default_mapping()
    partner = deal("1", {"amount": "150", "rep_deal_id": "9"}, modified_at=LATER)
    rep = deal("9", {"partner_deal_id": "acme:1", "shared_partner_account": "acme"})
    plan = reconcile(partner, rep, None, mapping, NO_USERS, NOW)
    assert plan.updates[Side.REP]["amount"] == "150"

    held = holding_back(plan, Side.REP, {"amount": "amount"}, None, "refused")

    assert "amount" not in held.new_base.values
    assert Side.REP not in held.updates or "amount" not in held.updates[Side.REP]
