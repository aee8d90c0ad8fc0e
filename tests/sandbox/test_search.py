"""Search: operators, case rules, sorting, paging, the 10,000 cap, limits, index lag."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hubspot_sandbox import FaultSpec, Sandbox, SandboxServer
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import DEALS, specs

SEARCH = f"{DEALS}/search"
T0 = 1767225600000  # 2026-01-01T00:00:00Z, the FakeClock's start


def search(client: httpx.Client, *filters: dict[str, Any], **body: Any) -> dict[str, Any]:
    payload = {"filterGroups": [{"filters": list(filters)}] if filters else [], **body}
    response = client.post(SEARCH, json=payload)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def names(result: dict[str, Any]) -> list[str]:
    return [r["properties"]["dealname"] for r in result["results"]]


def f(prop: str, operator: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    out = {"propertyName": prop, "operator": operator, **extra}
    if value is not None:
        out["value"] = value
    return out


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[httpx.Client, list[str]]]:
    """One read-only portal with four deals for the many operator cases (one server)."""
    sandbox = Sandbox(specs(), clock=FakeClock())
    ids = _four_deals(sandbox)
    with (
        SandboxServer(sandbox) as server,
        httpx.Client(
            base_url=server.base_url("partner"),
            headers={"Authorization": "Bearer demo-partner-token"},
        ) as client,
    ):
        yield client, ids


@pytest.fixture
def deals(sandbox: Sandbox) -> list[str]:
    return _four_deals(sandbox)


def _four_deals(sandbox: Sandbox) -> list[str]:
    portal = sandbox.portal("partner")
    rows = [
        {"dealname": "Acme Renewal", "amount": "100", "closedate": "2026-02-01T00:00:00Z",
         "product_interest": "Sales Hub Professional;HubSpot CMS",
         "shared_deal_team": "Ada@agency.example"},
        {"dealname": "Globex expansion", "amount": "2500.5", "closedate": "2026-03-01T00:00:00Z",
         "product_interest": "Sales Hub Enterprise", "rep_deal_id": "R-1"},
        {"dealname": "Initech", "amount": "900", "pipeline": "referred_deals"},
        {"dealname": "acme new logo", "amount": "100"},
    ]  # fmt: skip
    ids = []
    for row in rows:
        ids.append(portal.create_deal(row))
        if row.get("rep_deal_id"):  # a registered shared deal (its link alone is not enough)
            portal.register_deal(ids[-1])
    return ids


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("amount", "EQ", "100"), ["Acme Renewal", "acme new logo"]),
        (f("amount", "NEQ", "100"), ["Globex expansion", "Initech"]),
        (f("amount", "GT", "100"), ["Globex expansion", "Initech"]),
        (f("amount", "GTE", "900"), ["Globex expansion", "Initech"]),
        (f("amount", "LT", "900"), ["Acme Renewal", "acme new logo"]),
        (f("amount", "LTE", "900"), ["Acme Renewal", "Initech", "acme new logo"]),
        (f("amount", "BETWEEN", "150", highValue="2500.5"), ["Globex expansion", "Initech"]),
        (f("amount", "IN", values=["900", "2500.5"]), ["Globex expansion", "Initech"]),
        (f("amount", "NOT_IN", values=["100"]), ["Globex expansion", "Initech"]),
        (f("closedate", "HAS_PROPERTY"), ["Acme Renewal", "Globex expansion"]),
        (f("closedate", "NOT_HAS_PROPERTY"), ["Initech", "acme new logo"]),
        (f("closedate", "GT", "1769904000000"), ["Globex expansion"]),
        (f("closedate", "LT", "2026-02-15T00:00:00Z"), ["Acme Renewal"]),
        (f("dealname", "EQ", "ACME RENEWAL"), ["Acme Renewal"]),
        (f("dealname", "CONTAINS_TOKEN", "acme"), ["Acme Renewal", "acme new logo"]),
        (f("dealname", "CONTAINS_TOKEN", "glob*"), ["Globex expansion"]),
        (f("dealname", "NOT_CONTAINS_TOKEN", "acme"), ["Globex expansion", "Initech"]),
        (f("dealname", "IN", values=["initech"]), ["Initech"]),
        (f("dealname", "IN", values=["Initech"]), []),
        (f("shared_deal_team", "EQ", "ada@agency.example"), ["Acme Renewal"]),
        (f("pipeline", "EQ", "referred_deals"), ["Initech"]),
        (f("pipeline", "EQ", "REFERRED_DEALS"), []),
        (f("product_interest", "EQ", "HubSpot CMS"), ["Acme Renewal"]),
        (
            f("product_interest", "IN", values=["Sales Hub Enterprise", "HubSpot CMS"]),
            ["Acme Renewal", "Globex expansion"],
        ),
        (
            f("product_interest", "NOT_IN", values=["HubSpot CMS"]),
            ["Globex expansion", "Initech", "acme new logo"],
        ),
        (f("rep_deal_id", "HAS_PROPERTY"), ["Globex expansion"]),
        (f("hs_num_associated_active_deal_registrations", "GT", "0"), ["Globex expansion"]),
    ],
)
def test_operators(
    shared: tuple[httpx.Client, list[str]], flt: dict[str, Any], expected: list[str]
) -> None:
    result = search(shared[0], flt, properties=["dealname"])
    assert sorted(names(result)) == sorted(expected)
    assert result["total"] == len(expected)


def test_hs_object_id_is_filterable_numerically(partner: httpx.Client, deals: list[str]) -> None:
    result = search(partner, f("hs_object_id", "GT", deals[1]))
    assert [r["id"] for r in result["results"]] == deals[2:]
    assert search(partner, f("hs_object_id", "EQ", deals[0]))["total"] == 1


def test_groups_are_or_and_filters_are_and(partner: httpx.Client, deals: list[str]) -> None:
    payload = {
        "filterGroups": [
            {"filters": [f("amount", "EQ", "100"), f("dealname", "CONTAINS_TOKEN", "renewal")]},
            {"filters": [f("pipeline", "EQ", "referred_deals")]},
        ],
        "properties": ["dealname"],
    }
    result = partner.post(SEARCH, json=payload).json()
    assert names(result) == ["Acme Renewal", "Initech"]


def test_sort_both_forms_with_ties_broken_by_id(partner: httpx.Client, deals: list[str]) -> None:
    ascending = search(partner, sorts=[{"propertyName": "amount", "direction": "ASCENDING"}])
    assert [r["id"] for r in ascending["results"]] == [deals[0], deals[3], deals[2], deals[1]]
    descending = search(partner, sorts=["-amount"])
    assert [r["id"] for r in descending["results"]] == [deals[1], deals[2], deals[0], deals[3]]
    by_close = search(partner, sorts=["closedate"])
    assert [r["id"] for r in by_close["results"]] == [deals[0], deals[1], deals[2], deals[3]]


def test_default_order_is_by_id_and_properties_are_the_defaults(
    partner: httpx.Client, deals: list[str]
) -> None:
    result = search(partner)
    assert [r["id"] for r in result["results"]] == deals
    assert set(result["results"][0]["properties"]) >= {"dealname", "hs_lastmodifieddate"}


def test_query_matches_deal_names(partner: httpx.Client, deals: list[str]) -> None:
    assert names(search(partner, query="ACME", properties=["dealname"])) == [
        "Acme Renewal",
        "acme new logo",
    ]


def test_archived_deals_are_never_returned(partner: httpx.Client, deals: list[str]) -> None:
    partner.delete(f"{DEALS}/{deals[0]}")
    assert deals[0] not in [r["id"] for r in search(partner, limit=200)["results"]]


def test_limits_default_10_max_200_and_offset_paging(
    partner: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.portal("partner").bulk_load([{"dealname": f"D{i:03}"} for i in range(250)])
    first = search(partner)
    assert len(first["results"]) == 10
    assert first["total"] == 250
    assert first["paging"]["next"]["after"] == "10"
    collected: list[str] = []
    after = "0"
    while after:
        page = search(partner, limit=200, after=after, properties=["dealname"])
        collected += names(page)
        after = page.get("paging", {}).get("next", {}).get("after", "")
    assert collected == [f"D{i:03}" for i in range(250)]
    assert partner.post(SEARCH, json={"limit": 201}).status_code == 400


def test_paging_beyond_10000_results_is_400(partner: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.portal("partner").bulk_load([{"dealname": "D"}] * 10_050)
    last_allowed = search(partner, limit=200, after="9800")
    assert last_allowed["total"] == 10_050
    assert last_allowed["paging"]["next"]["after"] == "10000"
    for after, limit in (("10000", 10), ("9900", 200)):
        response = partner.post(SEARCH, json={"limit": limit, "after": after})
        assert response.status_code == 400
        assert response.json()["category"] == "VALIDATION_ERROR"
        assert "10000" in response.json()["message"]


@pytest.mark.parametrize(
    "groups",
    [
        [[f("amount", "HAS_PROPERTY")]] * 6,
        [[f("amount", "HAS_PROPERTY")] * 7],
        [[f("amount", "HAS_PROPERTY")] * 6] * 3 + [[f("amount", "HAS_PROPERTY")]],
    ],
)
def test_too_many_filters_is_400(
    shared: tuple[httpx.Client, list[str]], groups: list[list[dict[str, Any]]]
) -> None:
    payload = {"filterGroups": [{"filters": g} for g in groups]}
    response = shared[0].post(SEARCH, json=payload)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_maximum_filters_are_accepted(partner: httpx.Client) -> None:
    payload = {"filterGroups": [{"filters": [f("amount", "HAS_PROPERTY")] * 6}] * 3}
    assert partner.post(SEARCH, json=payload).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"filterGroups": [{"filters": [f("ghost", "EQ", "1")]}]},
        {"filterGroups": [{"filters": [f("amount", "LIKE", "1")]}]},
        {"filterGroups": [{"filters": [f("amount", "GT", "abc")]}]},
        {"sorts": ["amount", "dealname"]},
        {"after": "x"},
    ],
)
def test_malformed_searches_are_400(
    shared: tuple[httpx.Client, list[str]], body: dict[str, Any]
) -> None:
    assert shared[0].post(SEARCH, json=body).status_code == 400


def test_incremental_cursor_on_hs_lastmodifieddate(
    partner: httpx.Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    portal = sandbox.portal("partner")
    old = portal.create_deal({"dealname": "old"})
    clock.advance(5)
    new = portal.create_deal({"dealname": "new"})
    clock.advance(5)
    portal.edit_deal(old, {"amount": "1"})
    cursor = f("hs_lastmodifieddate", "GTE", str(T0 + 5000))
    result = search(partner, cursor, sorts=["hs_lastmodifieddate"])
    assert [r["id"] for r in result["results"]] == [new, old]
    iso = f("hs_lastmodifieddate", "GT", "2026-01-01T00:00:05.000Z")
    assert [r["id"] for r in search(partner, iso)["results"]] == [old]
    between = f("hs_lastmodifieddate", "BETWEEN", str(T0), highValue=str(T0 + 5000))
    assert [r["id"] for r in search(partner, between)["results"]] == [new]
    desc = search(
        partner, sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}]
    )
    assert [r["id"] for r in desc["results"]] == [old, new]


def test_same_millisecond_ties_are_ordered_by_id(partner: httpx.Client, sandbox: Sandbox) -> None:
    ids = sandbox.portal("partner").bulk_load([{"dealname": f"D{i}"} for i in range(30)])
    cursor = f("hs_lastmodifieddate", "GTE", str(T0))
    result = search(partner, cursor, sorts=["hs_lastmodifieddate"], limit=30)
    assert [r["id"] for r in result["results"]] == ids
    after_tie = {"filterGroups": [
        {"filters": [f("hs_lastmodifieddate", "GT", str(T0))]},
        {"filters": [f("hs_lastmodifieddate", "EQ", str(T0)), f("hs_object_id", "GT", ids[19])]},
    ], "sorts": ["hs_lastmodifieddate"]}  # fmt: skip
    assert [r["id"] for r in partner.post(SEARCH, json=after_tie).json()["results"]] == ids[20:]


def test_paging_reflects_writes_between_pages(partner: httpx.Client, sandbox: Sandbox) -> None:
    portal = sandbox.portal("partner")
    ids = portal.bulk_load([{"dealname": f"D{i}", "amount": "1"} for i in range(6)])
    flt = f("amount", "EQ", "1")
    first = search(partner, flt, limit=3)
    portal.edit_deal(ids[0], {"amount": "2"})
    second = search(partner, flt, limit=3, after=first["paging"]["next"]["after"])
    assert second["total"] == 5
    assert [r["id"] for r in second["results"]] == ids[4:]


def test_index_lag_hides_new_deals_and_shows_old_versions(
    partner: httpx.Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    portal = sandbox.portal("partner")
    existing = portal.create_deal({"dealname": "Existing", "amount": "1"})
    clock.advance(10)
    portal.set_faults(FaultSpec(index_lag_seconds=3))
    portal.edit_deal(existing, {"amount": "2"})
    fresh = portal.create_deal({"dealname": "Fresh"})
    lagged = search(partner, properties=["amount"])
    assert [(r["id"], r["properties"]["amount"]) for r in lagged["results"]] == [(existing, "1")]
    assert search(partner, f("amount", "EQ", "2"))["total"] == 0
    clock.advance(3)
    caught_up = search(partner, properties=["amount"])
    assert [(r["id"], r["properties"]["amount"]) for r in caught_up["results"]] == [
        (existing, "2"),
        (fresh, None),
    ]


def test_search_body_over_3000_characters_is_400(shared: tuple[httpx.Client, list[str]]) -> None:
    values = [f"value-{i:05}" for i in range(250)]
    body = {"filterGroups": [{"filters": [f("dealname", "IN", values=values)]}]}
    response = shared[0].post(SEARCH, json=body)
    assert response.status_code == 400
    assert "3000" in response.json()["message"]
    assert shared[0].post(SEARCH, json={**body, "filterGroups": []}).status_code == 200
