"""The demo portals and their seeded shared deals."""

from __future__ import annotations

from collections import Counter

import httpx

from hubspot_sandbox import Sandbox, demo_portals, seed_demo
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import DEALS


def seeded(deals: int = 300, seed: int = 0) -> Sandbox:
    sandbox = Sandbox(demo_portals(tier="unlimited"), clock=FakeClock())
    seed_demo(sandbox, deals=deals, seed=seed)
    return sandbox


def test_demo_portals_shape() -> None:
    partner, rep = demo_portals()
    assert (partner.name, partner.token, rep.name, rep.token) == (
        "partner", "demo-partner-token", "rep", "demo-rep-token",
    )  # fmt: skip
    assert [p.id for p in partner.pipelines] == ["default", "referred_deals"]
    assert [s.id for s in partner.pipelines[1].stages] == [
        "referred_new", "referred_qualified", "referred_won", "referred_lost",
    ]  # fmt: skip
    assert [s.id for s in rep.pipelines[0].stages] == [
        "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
        "decisionmakerboughtin", "contractsent", "closedwon", "closedlost",
    ]  # fmt: skip
    assert all(o.email.endswith("@agency.example") for o in partner.owners)
    assert all(o.email.endswith("@hubspot.example") for o in rep.owners)
    assert {p.name for p in partner.properties} == {
        "rep_deal_id",
        "shared_deal_team",
        "product_interest",
    }
    assert {p.name for p in rep.properties} == {
        "partner_deal_id", "shared_partner_account", "shared_deal_team", "product_interest",
    }  # fmt: skip
    assert [p.unique for p in rep.properties if p.name == "partner_deal_id"] == [True]


def test_seeded_states() -> None:
    sandbox = seeded()
    partner = {d["hs_object_id"]: d for d in sandbox.portal("partner").deals()}
    rep = {d["hs_object_id"]: d for d in sandbox.portal("rep").deals()}
    linked = [d for d in partner.values() if d.get("rep_deal_id")]
    registered_only = [
        d for d in partner.values()
        if not d.get("rep_deal_id") and d["hs_num_associated_active_deal_registrations"] == "1"
    ]  # fmt: skip
    referred_only = [
        d for d in rep.values() if d.get("shared_partner_account") and not d.get("partner_deal_id")
    ]
    assert len(linked) + len(registered_only) + len(referred_only) == 300
    assert 180 < len(linked) < 240
    assert 25 < len(registered_only) < 70
    assert 25 < len(referred_only) < 70
    unshared = [
        d
        for d in partner.values()
        if d["hs_num_associated_active_deal_registrations"] == "0" and not d.get("rep_deal_id")
    ]
    assert len(unshared) == 30
    referred = [d for d in linked if d["pipeline"] == "referred_deals"]
    assert {d["hs_num_associated_active_deal_registrations"] for d in referred} == {"0"}
    diverging = 0
    for deal in linked:
        counterpart = rep[str(deal["rep_deal_id"])]
        assert counterpart["partner_deal_id"] == f"agency-001:{deal['hs_object_id']}"
        assert counterpart["shared_partner_account"] == "agency-001"
        assert counterpart["dealname"] == deal["dealname"]
        fields = ("amount", "closedate", "product_interest", "shared_deal_team")
        diverging += any(deal[f] != counterpart[f] for f in fields)
    assert 20 < diverging < 70
    pipelines = Counter(d["pipeline"] for d in linked)
    assert pipelines["referred_deals"] > 20
    assert pipelines["default"] > 100


def test_seed_is_reproducible() -> None:
    def snapshot(sandbox: Sandbox) -> list[dict[str, str | None]]:
        return sandbox.portal("partner").deals() + sandbox.portal("rep").deals()

    assert snapshot(seeded(50, seed=3)) == snapshot(seeded(50, seed=3))
    assert snapshot(seeded(50, seed=3)) != snapshot(seeded(50, seed=4))


def test_seeded_scope_is_searchable(partner: httpx.Client, sandbox: Sandbox) -> None:
    seed_demo(sandbox, deals=40)
    scope = {
        "propertyName": "hs_num_associated_active_deal_registrations",
        "operator": "GT",
        "value": "0",
    }
    body = partner.post(f"{DEALS}/search", json={"filterGroups": [{"filters": [scope]}]}).json()
    expected = [
        d for d in sandbox.portal("partner").deals()
        if d["hs_num_associated_active_deal_registrations"] == "1"
    ]  # fmt: skip
    assert body["total"] == len(expected)
