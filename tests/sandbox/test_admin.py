"""The admin API under /<portal>/__sandbox/ drives a sandbox in another process."""

from __future__ import annotations

import httpx

from hubspot_sandbox import Sandbox, SandboxServer
from tests.sandbox.conftest import DEALS


def test_admin_simulates_users_and_reads_counters(server: SandboxServer, sandbox: Sandbox) -> None:
    admin = server.base_url("partner") + "/__sandbox"
    with httpx.Client(base_url=admin) as client:
        created = client.post("/deals", json={"properties": {"dealname": "From UI"}})
        assert created.status_code == 201
        deal_id = created.json()["id"]
        edit = {"properties": {"amount": "12"}, "source": "IMPORT", "at": "2026-01-02T00:00:00Z"}
        assert client.post(f"/deals/{deal_id}", json=edit).status_code == 200
        assert client.post(f"/deals/{deal_id}/register").status_code == 204
        deals = client.get("/deals").json()["results"]
        assert deals[0]["amount"] == "12"
        assert deals[0]["hs_num_associated_active_deal_registrations"] == "1"
        assert deals[0]["hs_lastmodifieddate"] == "2026-01-02T00:00:00.000Z"
        history = sandbox.portal("partner").history(deal_id, "amount")
        assert history[0]["sourceType"] == "IMPORT"
        assert client.post(f"/deals/{deal_id}/unregister").status_code == 204
        ended = client.get("/deals").json()["results"][0]
        assert ended["hs_num_associated_active_deal_registrations"] == "0"
        bad = client.post(f"/deals/{deal_id}", json={"properties": {"amount": "x"}})
        assert bad.status_code == 400
        assert client.post(f"/deals/{deal_id}/archive").status_code == 204
        assert client.get("/deals").json()["results"] == []


def test_admin_bulk_load_faults_and_counters(server: SandboxServer, sandbox: Sandbox) -> None:
    base = server.base_url("partner")
    api = httpx.Client(base_url=base, headers={"Authorization": "Bearer demo-partner-token"})
    with httpx.Client(base_url=base + "/__sandbox") as admin, api:
        loaded = admin.post(
            "/bulk_load",
            json={"deals": [{"dealname": "a"}, {"dealname": "b"}], "modified_at": 1000},
        )
        assert len(loaded.json()["ids"]) == 2
        api.get(DEALS)
        counters = admin.get("/counters").json()
        assert counters == {"counters": {"list": {"200": 1}}, "total": 1}
        assert admin.post("/counters/reset").status_code == 204
        assert admin.get("/counters").json()["total"] == 0
        set_faults = admin.post("/faults", json={"error_rate": 1.0, "endpoints": ["list"]})
        assert set_faults.json()["error_rate"] == 1.0
        assert api.get(DEALS).status_code >= 500
        assert admin.post("/faults", json={"bogus": 1}).status_code == 400
        assert admin.get("/faults").json()["endpoints"] == ["list"]
    assert [d["hs_lastmodifieddate"] for d in sandbox.portal("partner").deals()] == [
        "1970-01-01T00:00:01.000Z"
    ] * 2


def test_admin_unknown_portal_and_deal(server: SandboxServer) -> None:
    assert httpx.get(f"{server.url}/ghost/__sandbox/counters").status_code == 404
    missing = httpx.post(server.base_url("rep") + "/__sandbox/deals/1/register")
    assert missing.status_code == 404


def test_admin_reads_some_deals_restores_and_merges(server: SandboxServer) -> None:
    admin = server.base_url("partner") + "/__sandbox"
    with httpx.Client(base_url=admin) as client:
        ids = [
            client.post("/deals", json={"properties": {"dealname": name}}).json()["id"]
            for name in ("One", "Two", "Three")
        ]
        some = client.get("/deals", params={"ids": f"{ids[0]},{ids[2]},999"}).json()["results"]
        assert [d["dealname"] for d in some] == ["One", "Three"]
        assert client.post(f"/deals/{ids[1]}/archive").status_code == 204
        assert client.post(f"/deals/{ids[1]}/restore").status_code == 204
        merged = client.post(f"/deals/{ids[0]}/merge", json={"merged_id": ids[1]})
        assert merged.status_code == 204
        left = client.get("/deals").json()["results"]
        assert sorted(d["dealname"] for d in left) == ["One", "Three"]
        assert client.post(f"/deals/{ids[0]}/merge", json={"merged_id": ids[0]}).status_code == 400
