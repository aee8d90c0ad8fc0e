"""Which deals belong to a pair, decided by the pair's origin (pure rules)."""

from __future__ import annotations

from sync_worker.connectors.hubspot.paginator import SearchPaginator
from sync_worker.connectors.hubspot.standard import DEFAULT_PROPERTIES
from sync_worker.kernel.filters import Filter, Scope
from sync_worker.kernel.model import Side
from sync_worker.rules.scope import (
    discovery_scope,
    infer_origin,
    kept_filters,
    reach_problem,
    unkept_filters,
)
from tests.unit.support import deal, default_mapping

REGISTERED = Filter("hs_num_associated_active_deal_registrations", "GT", "0")
ACCOUNT = Filter("shared_partner_account", "EQ", "acme")
SHAPES = {p.name: p for p in DEFAULT_PROPERTIES}


def test_the_calculated_registration_filter_is_not_kept_the_partner_account_is() -> None:
    mapping = default_mapping()

    assert kept_filters(mapping, Side.PARTNER) == []
    assert unkept_filters(mapping, Side.PARTNER) == [REGISTERED]
    assert kept_filters(mapping, Side.REP) == [ACCOUNT]
    assert unkept_filters(mapping, Side.REP) == []


def test_the_partner_pull_also_asks_for_deals_carrying_the_link() -> None:
    mapping = default_mapping()

    assert discovery_scope(mapping, Side.PARTNER) == Scope(
        ((REGISTERED,), (Filter("rep_deal_id", "HAS_PROPERTY"),))
    )
    assert discovery_scope(mapping, Side.REP) == Scope(((ACCOUNT,),))


def test_the_partner_pull_is_two_hubspot_filter_groups_each_with_the_window() -> None:
    paginator = SearchPaginator(
        scope=discovery_scope(default_mapping(), Side.PARTNER), since_ms=5, properties=["amount"]
    )

    body = paginator.next_request()

    assert body is not None
    window = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "5"}
    assert body["filterGroups"] == [
        {
            "filters": [
                {"propertyName": REGISTERED.property, "operator": "GT", "value": "0"},
                window,
            ]
        },
        {"filters": [{"propertyName": "rep_deal_id", "operator": "HAS_PROPERTY"}, window]},
    ]


def test_reach_names_the_filter_a_deal_fails() -> None:
    mapping = default_mapping()
    created = deal("1", {"rep_deal_id": "9", REGISTERED.property: "0"})
    unlinked = deal("2", {REGISTERED.property: "0"})
    elsewhere = deal("3", {"shared_partner_account": "other", "partner_deal_id": "acme:1"})

    assert reach_problem(mapping, Side.PARTNER, created, SHAPES) is None
    assert reach_problem(mapping, Side.PARTNER, unlinked, SHAPES) == (
        f"fails {REGISTERED.property} GT 0 and carries no rep_deal_id"
    )
    assert reach_problem(mapping, Side.REP, elsewhere, SHAPES) == (
        "fails shared_partner_account EQ acme"
    )


def test_an_unrecorded_origin_is_the_partner_when_registered_else_the_rep() -> None:
    mapping = default_mapping()

    registered = deal("1", {REGISTERED.property: "1"})
    referred = deal("2", {REGISTERED.property: "0", "rep_deal_id": "9"})

    assert infer_origin(mapping, registered, SHAPES) is Side.PARTNER
    assert infer_origin(mapping, referred, SHAPES) is Side.REP


def test_filters_describe_themselves_for_people() -> None:
    assert REGISTERED.describe() == f"{REGISTERED.property} GT 0"
    assert Filter("stage", "IN", values=("a", "b")).describe() == "stage IN (a, b)"
    assert Filter("x", "HAS_PROPERTY").describe() == "x HAS_PROPERTY"
