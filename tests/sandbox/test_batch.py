"""Batch endpoints: 200/201/207 shapes, per-input errors, all-or-nothing create, upsert, limits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hubspot_sandbox import Sandbox
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import DEALS, create, new_deal

BATCH = f"{DEALS}/batch"


def post(client: httpx.Client, op: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"{BATCH}/{op}", json=body)


def test_read_returns_200_when_all_found(partner: httpx.Client) -> None:
    a, b = create(partner, amount="1"), create(partner, amount="2")
    response = post(
        partner, "read", {"inputs": [{"id": a["id"]}, {"id": b["id"]}], "properties": ["amount"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETE"
    assert [r["properties"]["amount"] for r in body["results"]] == ["1", "2"]
    assert "errors" not in body
    assert body["startedAt"] <= body["completedAt"]


def test_read_missing_ids_is_207_object_not_found(partner: httpx.Client) -> None:
    a = create(partner)
    response = post(partner, "read", {"inputs": [{"id": a["id"]}, {"id": "1"}, {"id": "2"}]})
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == [a["id"]]
    assert body["numErrors"] == 1
    error = body["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["status"] == "error"
    assert error["context"] == {"ids": ["1", "2"]}
    assert error["message"].startswith("Could not get some DEAL objects")


def test_read_by_id_property_with_history(
    partner: httpx.Client, sandbox: Sandbox, clock: FakeClock
) -> None:
    deal_id = sandbox.portal("partner").create_deal({"dealname": "D", "rep_deal_id": "R-5"})
    clock.advance(2)
    partner.patch(f"{DEALS}/{deal_id}", json={"properties": {"closedate": "2026-05-01"}})
    body = post(
        partner,
        "read",
        {
            "inputs": [{"id": "R-5"}],
            "idProperty": "rep_deal_id",
            "properties": ["closedate"],
            "propertiesWithHistory": ["closedate", "dealname", "hs_lastmodifieddate"],
        },
    ).json()
    deal = body["results"][0]
    assert deal["id"] == deal_id
    history = deal["propertiesWithHistory"]
    assert history["closedate"] == [
        {
            "value": "2026-05-01T00:00:00.000Z",
            "timestamp": "2026-01-01T00:00:02.000Z",
            "sourceType": "API",
        }
    ]
    assert history["dealname"][0]["sourceType"] == "CRM_UI"
    assert [h["value"] for h in history["hs_lastmodifieddate"]] == [
        "2026-01-01T00:00:02.000Z",
        "2026-01-01T00:00:00.000Z",
    ]


def test_create_without_trace_ids_is_all_or_nothing(
    partner: httpx.Client, sandbox: Sandbox
) -> None:
    inputs = [
        {"properties": {"dealname": "ok"}},
        {"properties": {"dealname": "bad", "amount": "x"}},
    ]
    response = post(partner, "create", {"inputs": inputs})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert sandbox.portal("partner").deals() == []
    clash = [{"properties": {"dealname": "a", "rep_deal_id": "R"}}] * 2
    assert post(partner, "create", {"inputs": clash}).status_code == 409
    assert sandbox.portal("partner").deals() == []
    created = post(partner, "create", {"inputs": inputs[:1]})
    assert created.status_code == 201
    assert created.json()["results"][0]["properties"]["dealname"] == "ok"


def test_create_with_trace_ids_is_207_per_input(partner: httpx.Client, sandbox: Sandbox) -> None:
    inputs = [
        {"properties": new_deal(dealname="ok"), "objectWriteTraceId": "t1"},
        {"properties": new_deal(dealname="bad", missing="x"), "objectWriteTraceId": "t2"},
    ]
    response = post(partner, "create", {"inputs": inputs})
    assert response.status_code == 207
    body = response.json()
    assert [r["properties"]["dealname"] for r in body["results"]] == ["ok"]
    assert body["results"][0]["objectWriteTraceId"] == "t1"
    assert body["numErrors"] == 1
    error = body["errors"][0]
    assert error["category"] == "VALIDATION_ERROR"
    assert error["context"]["objectWriteTraceId"] == ["t2"]
    assert "PROPERTY_DOESNT_EXIST" in error["message"]
    assert len(sandbox.portal("partner").deals()) == 1


def test_update_207_for_unknown_ids_and_invalid_inputs(partner: httpx.Client) -> None:
    a, b = create(partner), create(partner)
    inputs = [
        {"id": a["id"], "properties": {"amount": "5"}, "objectWriteTraceId": "fine"},
        {"id": "404", "properties": {"amount": "5"}, "objectWriteTraceId": "gone"},
        {"id": b["id"], "properties": {"dealstage": "nope"}, "objectWriteTraceId": "bad-stage"},
    ]
    response = post(partner, "update", {"inputs": inputs})
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == [a["id"]]
    assert body["results"][0]["properties"]["amount"] == "5"
    assert body["results"][0]["objectWriteTraceId"] == "fine"
    missing, invalid = body["errors"]
    assert missing["category"] == "OBJECT_NOT_FOUND"
    assert missing["context"] == {"ids": ["404"], "objectWriteTraceId": ["gone"]}
    assert invalid["category"] == "VALIDATION_ERROR"
    assert invalid["context"] == {"objectWriteTraceId": ["bad-stage"]}
    assert "INVALID_OPTION" in invalid["message"]


def test_update_all_ok_is_200_and_by_id_property(partner: httpx.Client) -> None:
    create(partner, rep_deal_id="R-1")
    inputs = [{"id": "R-1", "idProperty": "rep_deal_id", "properties": {"amount": "7"}}]
    response = post(partner, "update", {"inputs": inputs})
    assert response.status_code == 200
    assert response.json()["results"][0]["properties"]["amount"] == "7"


def test_update_duplicate_ids_is_400(partner: httpx.Client) -> None:
    a = create(partner)
    inputs = [{"id": a["id"], "properties": {}}] * 2
    response = post(partner, "update", {"inputs": inputs})
    assert response.status_code == 400
    assert "Duplicate IDs" in response.json()["message"]


def test_update_unique_clash_is_a_per_input_conflict(partner: httpx.Client) -> None:
    create(partner, rep_deal_id="R-1")
    b = create(partner)
    inputs = [{"id": b["id"], "properties": {"rep_deal_id": "R-1"}, "objectWriteTraceId": "x"}]
    body = post(partner, "update", {"inputs": inputs}).json()
    assert body["errors"][0]["category"] == "CONFLICT"
    assert body["errors"][0]["context"] == {"objectWriteTraceId": ["x"]}


def test_upsert_creates_then_updates_idempotently(partner: httpx.Client, sandbox: Sandbox) -> None:
    inputs = [
        {"id": "R-1", "idProperty": "rep_deal_id", "properties": new_deal(dealname="Counterpart")},
    ]
    first = post(partner, "upsert", {"inputs": inputs})
    assert first.status_code == 200
    created = first.json()["results"][0]
    assert created["new"] is True
    assert created["properties"]["rep_deal_id"] == "R-1"
    again = post(partner, "upsert", {"inputs": inputs}).json()["results"][0]
    assert again["new"] is False
    assert again["id"] == created["id"]
    assert len(sandbox.portal("partner").deals()) == 1


def test_upsert_needs_a_unique_id_property(partner: httpx.Client) -> None:
    inputs = [{"id": "x", "idProperty": "dealname", "properties": {"amount": "1"}}]
    response = post(partner, "upsert", {"inputs": inputs})
    assert response.status_code == 400
    assert "unique" in response.json()["message"]


def test_upsert_invalid_input_is_207(partner: httpx.Client) -> None:
    inputs = [
        {"id": "R-1", "idProperty": "rep_deal_id", "properties": new_deal(dealname="ok")},
        {
            "id": "R-2",
            "idProperty": "rep_deal_id",
            "properties": {"amount": "x"},
            "objectWriteTraceId": "t",
        },
    ]
    response = post(partner, "upsert", {"inputs": inputs})
    assert response.status_code == 207
    assert response.json()["errors"][0]["context"] == {"objectWriteTraceId": ["t"]}


def test_archive_is_204(partner: httpx.Client, sandbox: Sandbox) -> None:
    a, b = create(partner), create(partner)
    response = post(partner, "archive", {"inputs": [{"id": a["id"]}, {"id": "999"}]})
    assert response.status_code == 204
    assert [d["hs_object_id"] for d in sandbox.portal("partner").deals()] == [b["id"]]


@pytest.mark.parametrize("op", ["read", "create", "update", "upsert", "archive"])
def test_more_than_100_inputs_is_400(partner: httpx.Client, op: str) -> None:
    inputs = [{"id": str(i), "properties": {"dealname": "x"}} for i in range(101)]
    response = post(partner, op, {"inputs": inputs})
    assert response.status_code == 400
    assert "100" in response.json()["message"]


def test_inputs_must_be_a_list(partner: httpx.Client) -> None:
    assert post(partner, "read", {"inputs": "nope"}).status_code == 400
