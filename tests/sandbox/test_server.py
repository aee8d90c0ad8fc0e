"""The server: ports, portals at their own base URLs, auth, unknown paths."""

from __future__ import annotations

import httpx

from hubspot_sandbox import Sandbox, SandboxServer
from tests.sandbox.conftest import DEALS, create, specs


def test_port_zero_picks_a_free_port_and_stops_cleanly() -> None:
    sandbox = Sandbox(specs())
    with SandboxServer(sandbox) as server:
        assert server.port > 0
        assert server.base_url("partner") == f"http://127.0.0.1:{server.port}/partner"
        response = httpx.get(server.base_url("partner") + "/crm/v3/pipelines/deals")
        assert response.status_code == 401
    with httpx.Client() as client:
        try:
            client.get(server.base_url("partner") + "/crm/v3/pipelines/deals", timeout=0.5)
        except httpx.ConnectError:
            pass
        else:  # pragma: no cover - the assertion documents the expectation
            raise AssertionError("the server still answers after exit")


def test_portals_are_isolated(partner: httpx.Client, rep: httpx.Client) -> None:
    deal = create(partner, dealname="Only in partner")
    assert partner.get(f"{DEALS}/{deal['id']}").status_code == 200
    assert rep.get(f"{DEALS}/{deal['id']}").status_code == 404
    assert rep.get(DEALS).json()["results"] == []


def test_missing_or_wrong_token_is_401_with_hubspot_body(server: SandboxServer) -> None:
    url = server.base_url("partner") + DEALS
    for headers in ({}, {"Authorization": "Bearer demo-rep-token"}, {"Authorization": "Basic x"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error"
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found")
        assert body["correlationId"]
    assert server.sandbox.portal("partner").counters == {"list": {401: 3}}


def test_a_rotated_token_is_refused_from_then_on(
    partner: httpx.Client, server: SandboxServer
) -> None:
    assert partner.get(DEALS).status_code == 200
    server.sandbox.portal("partner").rotate_token("a-new-token")
    assert partner.get(DEALS).status_code == 401
    new = {"Authorization": "Bearer a-new-token"}
    assert httpx.get(server.base_url("partner") + DEALS, headers=new).status_code == 200


def test_object_type_id_0_3_is_deals_and_others_are_404(partner: httpx.Client) -> None:
    deal = create(partner)
    assert partner.get(f"/crm/v3/objects/0-3/{deal['id']}").status_code == 200
    assert partner.get("/crm/v3/objects/contacts").status_code == 404


def test_unknown_portal_is_404(server: SandboxServer) -> None:
    response = httpx.get(f"{server.url}/nobody{DEALS}", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404


def test_every_response_has_a_correlation_id(partner: httpx.Client) -> None:
    assert partner.get(DEALS).headers["X-HubSpot-Correlation-Id"]


def test_use_swaps_the_served_sandbox(server: SandboxServer) -> None:
    fresh = Sandbox(specs())
    deal_id = fresh.portal("rep").create_deal({"dealname": "in the fresh sandbox"})
    server.use(fresh)
    response = httpx.get(
        f"{server.base_url('rep')}{DEALS}/{deal_id}",
        headers={"Authorization": "Bearer demo-rep-token"},
    )
    assert response.json()["properties"]["dealname"] == "in the fresh sandbox"
    assert fresh.portal("rep").counters == {"get": {200: 1}}
