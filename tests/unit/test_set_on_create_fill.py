"""An emptied set-on-create field is filled with its side's own default when it has one: the
other account's value (a pipeline id) means nothing there."""

from __future__ import annotations

from sync_worker.kernel.model import Side
from sync_worker.rules.plan import BaseSnapshot
from sync_worker.rules.reconcile import reconcile
from tests.unit.support import NO_USERS, NOW, apply, deal, default_mapping


def test_an_emptied_partner_pipeline_gets_the_partners_default_not_the_reps_id() -> None:
    mapping = default_mapping()
    partner = deal("p1", {"pipeline": None, "rep_deal_id": "r1"})
    rep = deal("r1", {"pipeline": "default", "partner_deal_id": "acme:p1"})
    plan = reconcile(partner, rep, BaseSnapshot({}), mapping, NO_USERS, NOW)
    assert plan.updates == {Side.PARTNER: {"pipeline": "referred_deals"}}
    again = reconcile(
        apply(partner, plan, Side.PARTNER), rep, plan.new_base, mapping, NO_USERS, NOW
    )
    assert again.updates == {}  # held from now on: set_on_create never overwrites


def test_without_a_default_the_value_is_copied() -> None:
    mapping = default_mapping()
    partner = deal("p1", {"dealname": "Acme"})
    rep = deal("r1", {"dealname": None})
    plan = reconcile(partner, rep, BaseSnapshot({}), mapping, NO_USERS, NOW)
    assert plan.updates.get(Side.REP) == {"dealname": "Acme"}
