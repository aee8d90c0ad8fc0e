"""Planning a counterpart for a newly originated shared deal."""

from __future__ import annotations

from decimal import Decimal

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import compile_mapping
from sync_worker.rules.plan import CreationPlan, Directory
from sync_worker.rules.reconcile import plan_creation, reconcile
from tests.unit.support import NOW, deal, mapping_data, text_team_mapping

USERS = Directory(partner=frozenset({"pia@agency.test"}), rep=frozenset({"rita@hubspot.test"}))

REGISTERED = deal(
    "p1",
    {
        "dealname": "Acme rollout",
        "pipeline": "partner_pipeline",
        "dealstage": "partner_stage",
        "amount": "1500.00",
        "closedate": "2024-01-17T10:00:00Z",
        "product_interest": "sales;cms",
        "shared_deal_team": "Pia@agency.test",
    },
)


def created(plan: CreationPlan, deal_id: str = "new") -> DealRecord:
    return deal(deal_id, plan.properties)


def test_partner_registration_creates_the_rep_counterpart() -> None:
    plan = plan_creation(REGISTERED, Side.PARTNER, text_team_mapping(), USERS, NOW)
    # The rep CRM holds many accounts' deals: the link (and upsert key) names the account.
    assert (plan.target_side, plan.key, plan.id_property) == (
        Side.REP,
        "acme:p1",
        "partner_deal_id",
    )
    assert plan.properties == {
        "partner_deal_id": "acme:p1",
        "shared_partner_account": "acme",
        "dealname": "Acme rollout",
        "pipeline": "default",  # the rep's default: pipelines never flow partner -> rep
        "dealstage": "appointmentscheduled",
        "amount": "1500",
        "closedate": "2024-01-17T10:00:00.000Z",
        "product_interest": "cms;sales",
        "shared_deal_team": "pia@agency.test",
    }
    assert plan.rejections == ()
    assert plan.new_base.agreed_at == NOW
    assert plan.new_base.values["amount"] == Decimal(1500)
    assert "pipeline" not in plan.new_base.values  # the two pipelines differ by design
    assert {c.field for c in plan.changes} == {
        "dealname",
        "pipeline",
        "dealstage",
        "amount",
        "closedate",
        "product_interest",
        "deal_team",
    }


def test_rep_referral_lands_in_the_partners_referred_deals_pipeline() -> None:
    referred = deal("r9", {"dealname": "Globex", "pipeline": "sales_pipeline", "amount": "10"})
    plan = plan_creation(referred, Side.REP, text_team_mapping(), USERS, NOW)
    assert (plan.target_side, plan.key, plan.id_property) == (Side.PARTNER, "r9", "rep_deal_id")
    assert plan.properties == {
        "rep_deal_id": "r9",
        "dealname": "Globex",
        "pipeline": "referred_deals",
        "dealstage": "referred_new",
        "amount": "10",
    }
    pipeline = next(c for c in plan.changes if c.field == "pipeline")
    assert pipeline.reason.decision == "created: the partner's default"


def test_created_pair_then_reconciles_to_nothing() -> None:
    mapping = text_team_mapping()
    plan = plan_creation(REGISTERED, Side.PARTNER, mapping, USERS, NOW)
    again = reconcile(REGISTERED, created(plan), plan.new_base, mapping, USERS, NOW)
    assert again.updates == {}
    assert again.is_noop


def test_an_unreadable_origin_value_is_rejected_and_the_default_used() -> None:
    mapping = compile_mapping(
        mapping_data(
            {"size": {"type": "number", "default": {"rep": "0"}}, "name": {"type": "string"}}
        )
    )
    plan = plan_creation(
        deal("p1", {"size": "big", "name": "A"}), Side.PARTNER, mapping, USERS, NOW
    )
    assert plan.properties == {"partner_deal_id": "p1", "size": "0", "name": "A"}
    (rejection,) = plan.rejections
    assert (rejection.field, rejection.side, rejection.raw_value) == ("size", Side.PARTNER, "big")
    assert plan.new_base.values == {"name": "A"}


def test_origin_values_the_direction_keeps_are_not_copied() -> None:
    mapping = compile_mapping(
        mapping_data(
            {"note": {"type": "string", "direction": "rep_to_partner", "rule": "rep_wins"}}
        )
    )
    plan = plan_creation(deal("p1", {"note": "private"}), Side.PARTNER, mapping, USERS, NOW)
    assert plan.properties == {"partner_deal_id": "p1"}
    assert plan.changes == ()


def test_origin_values_that_are_never_used_are_never_rejected() -> None:
    referred = deal("r9", {"dealname": "Globex", "dealstage": "stage-with-no-partner-meaning"})
    mapping = compile_mapping(
        mapping_data(
            {
                "dealname": {"type": "string", "rule": "set_on_create"},
                "dealstage": {
                    "type": "enum",
                    "direction": "none",
                    "value_map": {"rep": {"closedwon": "won"}},
                    "default": {"partner": "new"},
                },
            }
        )
    )
    plan = plan_creation(referred, Side.REP, mapping, USERS, NOW)
    assert plan.rejections == ()
    assert plan.properties == {"rep_deal_id": "r9", "dealname": "Globex", "dealstage": "new"}
    assert plan.new_base.values == {"dealname": "Globex"}
