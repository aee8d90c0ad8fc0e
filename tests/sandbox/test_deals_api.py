"""Single-deal endpoints and listing: shapes, validation errors, clearing, timestamps."""

from __future__ import annotations

import json

import httpx
import pytest

from hubspot_sandbox import Sandbox
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import DEALS, create, new_deal


def test_create_normalises_values_and_defaults_the_pipeline(partner: httpx.Client) -> None:
    body = create(partner, amount="1500.00", closedate="1700000000000")
    props = body["properties"]
    assert props["amount"] == "1500"
    assert props["closedate"] == "2023-11-14T22:13:20.000Z"
    assert props["pipeline"] == "default"
    assert props["dealstage"] == "appointmentscheduled"
    assert props["hs_object_id"] == body["id"]
    assert body["createdAt"] == body["updatedAt"] == props["createdate"]
    assert props["hs_lastmodifieddate"] == props["createdate"]
    assert body["archived"] is False


def test_create_requires_dealname(partner: httpx.Client) -> None:
    response = partner.post(DEALS, json={"properties": {"amount": "1"}})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_an_api_create_requires_a_stage_a_user_gets_the_first(
    partner: httpx.Client, sandbox: Sandbox
) -> None:
    """HubSpot's object guide lists dealname, dealstage and pipeline as required to create a
    deal; its deals guide lets the pipeline default. The sandbox takes the harsher reading for
    the stage. A deal a user makes in the UI lands in its pipeline's first stage."""
    for body in ({"dealname": "D"}, {"dealname": "D", "pipeline": "referred_deals"}):
        response = partner.post(DEALS, json={"properties": body})
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "REQUIRED"
        assert response.json()["errors"][0]["context"]["propertyName"] == ["dealstage"]
    upsert = {"id": "R-9", "idProperty": "rep_deal_id", "properties": {"dealname": "D"}}
    refused = partner.post(f"{DEALS}/batch/upsert", json={"inputs": [upsert]})
    assert refused.status_code in (207, 400)
    assert sandbox.portal("partner").deals() == []
    made = sandbox.portal("partner").create_deal({"dealname": "From the UI"})
    assert sandbox.portal("partner").get_deal(made)["dealstage"] == "appointmentscheduled"  # type: ignore[index]


@pytest.mark.parametrize(
    ("props", "code"),
    [
        ({"no_such_property": "x"}, "PROPERTY_DOESNT_EXIST"),
        ({"hs_lastmodifieddate": "1700000000000"}, "READ_ONLY_VALUE"),
        ({"hs_num_associated_active_deal_registrations": "1"}, "READ_ONLY_VALUE"),
        ({"pipeline": "nope"}, "INVALID_OPTION"),
        ({"dealstage": "referred_new"}, "INVALID_OPTION"),
        ({"product_interest": "Sales Hub Professional;Nope Hub"}, "INVALID_OPTION"),
        ({"hubspot_owner_id": "123"}, "INVALID_OPTION"),
        ({"amount": "lots"}, "INVALID_DECIMAL"),
        ({"closedate": "next tuesday"}, "INVALID_DATE"),
    ],
)
def test_invalid_values_are_400_with_hubspot_error_codes(
    partner: httpx.Client, props: dict[str, str], code: str
) -> None:
    response = partner.post(DEALS, json={"properties": {"dealname": "D", **props}})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    listed = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert listed[0]["error"] == code
    assert body["errors"][0]["code"] == code
    assert body["errors"][0]["context"]["propertyName"] == [next(iter(props))]


def test_invalid_option_message_lists_allowed_options(partner: httpx.Client) -> None:
    response = partner.post(DEALS, json={"properties": {"dealname": "D", "pipeline": "x"}})
    message = response.json()["errors"][0]["message"]
    assert message == "x was not one of the allowed options: [default, referred_deals]"


def test_stage_is_checked_against_the_deals_pipeline(partner: httpx.Client) -> None:
    body = create(partner, pipeline="referred_deals", dealstage="referred_qualified")
    assert body["properties"]["dealstage"] == "referred_qualified"
    moved = partner.patch(f"{DEALS}/{body['id']}", json={"properties": {"pipeline": "default"}})
    assert moved.json()["properties"]["dealstage"] == "appointmentscheduled"


def test_malformed_json_is_400(partner: httpx.Client) -> None:
    response = partner.post(
        DEALS, content=b'{"properties": {', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid input JSON on line 1")


def test_get_returns_requested_properties_with_null_for_empty(partner: httpx.Client) -> None:
    deal = create(partner, amount="10")
    response = partner.get(f"{DEALS}/{deal['id']}", params={"properties": "amount,closedate,ghost"})
    props = response.json()["properties"]
    assert props["amount"] == "10"
    assert props["closedate"] is None
    assert "ghost" not in props
    assert set(props) == {
        "amount",
        "closedate",
        "hs_object_id",
        "createdate",
        "hs_lastmodifieddate",
    }


def test_get_without_properties_returns_the_defaults(partner: httpx.Client) -> None:
    deal = create(partner)
    props = partner.get(f"{DEALS}/{deal['id']}").json()["properties"]
    assert set(props) == {
        "dealname", "amount", "closedate", "pipeline", "dealstage",
        "hs_object_id", "createdate", "hs_lastmodifieddate",
    }  # fmt: skip


def test_unknown_id_is_404_object_not_found(partner: httpx.Client) -> None:
    response = partner.get(f"{DEALS}/12345")
    assert response.status_code == 404
    body = response.json()
    assert body["category"] == "OBJECT_NOT_FOUND"
    assert body["context"] == {"id": ["12345"]}


def test_patch_overwrites_and_empty_string_clears(
    partner: httpx.Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    deal = create(partner, amount="10", shared_deal_team="a@agency.example")
    clock.advance(1.5)
    response = partner.patch(f"{DEALS}/{deal['id']}", json={"properties": {"amount": ""}})
    assert response.status_code == 200
    after = partner.get(f"{DEALS}/{deal['id']}", params={"properties": "amount,shared_deal_team"})
    assert after.json()["properties"]["amount"] is None
    assert after.json()["properties"]["shared_deal_team"] == "a@agency.example"
    assert after.json()["updatedAt"] > deal["updatedAt"]


def test_every_write_bumps_hs_lastmodifieddate_even_without_change(
    partner: httpx.Client, clock: FakeClock
) -> None:
    deal = create(partner, amount="10")
    clock.advance(0.25)
    same = partner.patch(f"{DEALS}/{deal['id']}", json={"properties": {"amount": "10"}}).json()
    assert same["properties"]["hs_lastmodifieddate"] == "2026-01-01T00:00:00.250Z"
    assert same["updatedAt"] == same["properties"]["hs_lastmodifieddate"]
    assert same["properties"]["createdate"] == "2026-01-01T00:00:00.000Z"


def test_writes_in_the_same_millisecond_share_a_timestamp(partner: httpx.Client) -> None:
    first, second = create(partner), create(partner)
    assert first["updatedAt"] == second["updatedAt"]


def test_id_property_get_and_patch(partner: httpx.Client) -> None:
    deal = create(partner, rep_deal_id="R-77")
    got = partner.get(f"{DEALS}/R-77", params={"idProperty": "rep_deal_id"})
    assert got.json()["id"] == deal["id"]
    patched = partner.patch(
        f"{DEALS}/R-77", params={"idProperty": "rep_deal_id"}, json={"properties": {"amount": "5"}}
    )
    assert patched.json()["properties"]["amount"] == "5"
    not_unique = partner.get(f"{DEALS}/x", params={"idProperty": "dealname"})
    assert not_unique.status_code == 400


def test_unique_value_clash_is_409_conflict(partner: httpx.Client) -> None:
    first = create(partner, rep_deal_id="R-1")
    response = partner.post(DEALS, json={"properties": new_deal(rep_deal_id="R-1")})
    assert response.status_code == 409
    body = response.json()
    assert body["category"] == "CONFLICT"
    assert body["message"].endswith(f"Existing ID: {first['id']}")


def test_delete_archives_and_releases_the_unique_value(partner: httpx.Client) -> None:
    deal = create(partner, rep_deal_id="R-9")
    assert partner.delete(f"{DEALS}/{deal['id']}").status_code == 204
    assert partner.get(f"{DEALS}/{deal['id']}").status_code == 404
    archived = partner.get(f"{DEALS}/{deal['id']}", params={"archived": "true"}).json()
    assert archived["archived"] is True
    assert "archivedAt" in archived
    assert partner.delete(f"{DEALS}/{deal['id']}").status_code == 204
    create(partner, rep_deal_id="R-9")


def test_list_pages_with_after_and_caps_limit_at_100(
    partner: httpx.Client, sandbox: Sandbox
) -> None:
    ids = sandbox.portal("partner").bulk_load([{"dealname": f"D{i}"} for i in range(25)])
    seen: list[str] = []
    after: str | None = None
    while True:
        params = {"limit": "10", **({"after": after} if after else {})}
        body = partner.get(DEALS, params=params).json()
        seen += [r["id"] for r in body["results"]]
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    assert seen == ids
    assert partner.get(DEALS, params={"limit": "101"}).status_code == 400
    assert len(partner.get(DEALS).json()["results"]) == 10


def test_list_archived_only_returns_archived(partner: httpx.Client) -> None:
    kept, gone = create(partner), create(partner)
    partner.delete(f"{DEALS}/{gone['id']}")
    active = [r["id"] for r in partner.get(DEALS).json()["results"]]
    archived = [r["id"] for r in partner.get(DEALS, params={"archived": "true"}).json()["results"]]
    assert active == [kept["id"]]
    assert archived == [gone["id"]]


def test_history_records_source_types_newest_first(
    partner: httpx.Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    deal_id = sandbox.portal("partner").create_deal({"dealname": "D", "amount": "1"})
    clock.advance(1)
    partner.patch(f"{DEALS}/{deal_id}", json={"properties": {"amount": "2"}})
    clock.advance(1)
    sandbox.portal("partner").edit_deal(deal_id, {"amount": "3"})
    body = partner.get(f"{DEALS}/{deal_id}", params={"propertiesWithHistory": "amount"}).json()
    history = body["propertiesWithHistory"]["amount"]
    assert [(h["value"], h["sourceType"]) for h in history] == [
        ("3", "CRM_UI"),
        ("2", "API"),
        ("1", "CRM_UI"),
    ]
    assert [h["timestamp"] for h in history] == [
        "2026-01-01T00:00:02.000Z",
        "2026-01-01T00:00:01.000Z",
        "2026-01-01T00:00:00.000Z",
    ]


def test_properties_pipelines_and_owners(partner: httpx.Client) -> None:
    props = {p["name"]: p for p in partner.get("/crm/v3/properties/deals").json()["results"]}
    assert props["rep_deal_id"]["hasUniqueValue"] is True
    assert props["hs_lastmodifieddate"]["modificationMetadata"]["readOnlyValue"] is True
    assert props["hs_num_associated_active_deal_registrations"]["calculated"] is True
    assert props["product_interest"]["fieldType"] == "checkbox"
    assert "HubSpot CMS" in [o["value"] for o in props["product_interest"]["options"]]
    pipelines = partner.get("/crm/v3/pipelines/deals").json()["results"]
    assert [p["id"] for p in pipelines] == ["default", "referred_deals"]
    assert pipelines[0]["stages"][5]["metadata"] == {"probability": "1.0", "isClosed": "true"}
    owners = partner.get("/crm/v3/owners", params={"limit": "3"}).json()
    assert len(owners["results"]) == 3
    rest = partner.get("/crm/v3/owners", params={"after": owners["paging"]["next"]["after"]})
    assert len(rest.json()["results"]) == 1
    by_email = partner.get("/crm/v3/owners", params={"email": "Grace.Hopper@agency.example"})
    assert [o["id"] for o in by_email.json()["results"]] == ["71000002"]
