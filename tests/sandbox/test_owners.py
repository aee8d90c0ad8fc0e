"""Owners and the owner-id properties: the owners API lists active users (archived ones only on
request), and deal collaborators / deal owner accept only the portal's active owner ids."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from hubspot_sandbox import Sandbox
from hubspot_sandbox.seed import PARTNER_OWNERS, REP_OWNERS
from tests.sandbox.conftest import DEALS, create

COLLABORATORS = "hs_all_collaborator_owner_ids"
ADA, GRACE = PARTNER_OWNERS[0].id, PARTNER_OWNERS[1].id
RITA = REP_OWNERS[0].id


def owner_ids(client: httpx.Client, **params: str) -> list[str]:
    response = client.get("/crm/v3/owners", params=params)
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()["results"]]


def test_deactivated_owners_are_listed_only_with_archived_true(
    partner: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.portal("partner").deactivate_owner(GRACE)

    assert GRACE not in owner_ids(partner)
    assert owner_ids(partner, archived="true") == [GRACE]
    (listed,) = partner.get("/crm/v3/owners", params={"archived": "true"}).json()["results"]
    assert (listed["archived"], listed["email"], listed["firstName"]) == (
        True,
        "grace.hopper@agency.example",
        "Grace",
    )


def test_collaborators_take_the_portals_active_owner_ids(partner: httpx.Client) -> None:
    body = create(partner, **{COLLABORATORS: f";{ADA};{GRACE}"})  # HubSpot's own leading ';'
    assert body["properties"][COLLABORATORS] == f"{ADA};{GRACE}"


@pytest.mark.parametrize("owner", ["rep", "deactivated", "unknown"])
@pytest.mark.parametrize("prop", [COLLABORATORS, "hubspot_owner_id"])
def test_owner_properties_refuse_other_ids_as_invalid_options(
    partner: httpx.Client, sandbox: Sandbox, owner: str, prop: str
) -> None:
    sandbox.portal("partner").deactivate_owner(GRACE)
    bad = {"rep": RITA, "deactivated": GRACE, "unknown": "123"}[owner]
    value = f"{ADA};{bad}" if prop == COLLABORATORS else bad
    deal_id = create(partner)["id"]

    response = partner.patch(f"{DEALS}/{deal_id}", json={"properties": {prop: value}})

    assert response.status_code == 400
    body: dict[str, Any] = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert "Property values were not valid" in body["message"]
    (problem,) = json.loads(body["message"].split("Property values were not valid: ", 1)[1])
    assert (problem["error"], problem["name"]) == ("INVALID_OPTION", prop)
    assert problem["message"].startswith(f"{bad} was not one of the allowed options")


def test_a_reactivated_owner_is_valid_again(partner: httpx.Client, sandbox: Sandbox) -> None:
    portal = sandbox.portal("partner")
    portal.deactivate_owner(GRACE)
    portal.reactivate_owner(GRACE)

    assert create(partner, **{COLLABORATORS: GRACE})["properties"][COLLABORATORS] == GRACE
    assert GRACE in owner_ids(partner)


def test_collaborators_are_described_as_a_multi_owner_property(partner: httpx.Client) -> None:
    props = {p["name"]: p for p in partner.get("/crm/v3/properties/deals").json()["results"]}
    collaborators = props[COLLABORATORS]
    assert (collaborators["type"], collaborators["fieldType"]) == ("enumeration", "checkbox")
    assert collaborators["referencedObjectType"] == "OWNER"
    assert collaborators["externalOptions"] is True
    assert collaborators["modificationMetadata"]["readOnlyValue"] is False
