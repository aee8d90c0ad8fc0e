"""The Python API used by tests, the demo and benchmarks (no HTTP)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import pytest

from hubspot_sandbox import PortalSpec, PropertyDef, Sandbox, SandboxApiError
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import DEALS


def test_only_a_registration_drives_the_registration_count(sandbox: Sandbox) -> None:
    """HubSpot calculates the count from registration records no API creates: a deal carrying
    a link property (as the worker's counterparts do) is not registered."""
    portal = sandbox.portal("partner")
    plain = portal.create_deal({"dealname": "plain"})
    linked = portal.create_deal({"dealname": "linked", "rep_deal_id": "R-1"})
    registered = portal.create_deal({"dealname": "registered"})
    portal.register_deal(registered)
    counts = {
        d["hs_object_id"]: d["hs_num_associated_active_deal_registrations"] for d in portal.deals()
    }
    assert counts == {plain: "0", linked: "0", registered: "1"}
    portal.end_registration(registered)
    assert portal.get_deal(registered)["hs_num_associated_active_deal_registrations"] == "0"  # type: ignore[index]
    history = portal.history(registered, "hs_num_associated_active_deal_registrations")
    assert [h["value"] for h in history] == ["0", "1", "0"]
    assert {h["sourceType"] for h in history} == {"CALCULATED"}


def test_register_bumps_hs_lastmodifieddate(sandbox: Sandbox, clock: FakeClock) -> None:
    portal = sandbox.portal("partner")
    deal_id = portal.create_deal({"dealname": "d"})
    clock.advance(3)
    portal.register_deal(deal_id)
    assert portal.get_deal(deal_id)["hs_lastmodifieddate"] == "2026-01-01T00:00:03.000Z"  # type: ignore[index]


def test_edit_with_explicit_time_and_source(sandbox: Sandbox) -> None:
    portal = sandbox.portal("rep")
    deal_id = portal.create_deal({"dealname": "d"}, at=datetime(2025, 6, 1, tzinfo=UTC))
    portal.edit_deal(
        deal_id, {"amount": "3"}, source="WORKFLOWS", at=datetime(2025, 6, 2, tzinfo=UTC)
    )
    deal = portal.get_deal(deal_id)
    assert deal is not None
    assert deal["createdate"] == "2025-06-01T00:00:00.000Z"
    assert deal["hs_lastmodifieddate"] == "2025-06-02T00:00:00.000Z"
    assert portal.history(deal_id, "amount")[0]["sourceType"] == "WORKFLOWS"


def test_validation_errors_raise_sandbox_api_error(sandbox: Sandbox) -> None:
    portal = sandbox.portal("partner")
    with pytest.raises(SandboxApiError) as err:
        portal.create_deal({"dealname": "d", "ghost": "1"})
    assert err.value.status == 400
    assert err.value.category == "VALIDATION_ERROR"
    with pytest.raises(SandboxApiError) as missing:
        portal.edit_deal("123", {"amount": "1"})
    assert missing.value.status == 404
    portal.archive_deal(portal.create_deal({"dealname": "gone"}))
    assert [d["dealname"] for d in portal.deals()] == []


def test_bulk_load_shares_one_millisecond_and_validates_everything_first(sandbox: Sandbox) -> None:
    portal = sandbox.portal("partner")
    moment = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ids = portal.bulk_load([{"dealname": f"D{i}"} for i in range(1000)], modified_at=moment)
    assert len(ids) == len(set(ids)) == 1000
    assert {d["hs_lastmodifieddate"] for d in portal.deals()} == {"2026-03-01T12:00:00.000Z"}
    with pytest.raises(SandboxApiError):
        portal.bulk_load([{"dealname": "ok"}, {"amount": "1"}])
    assert len(portal.deals()) == 1000


def test_extra_custom_properties(clock: FakeClock) -> None:
    spec = PortalSpec(
        "p", "t", tier="unlimited", properties=(PropertyDef("score", "Score", "number", "number"),)
    )
    portal = Sandbox([spec], clock=clock).portal("p")
    deal_id = portal.create_deal({"dealname": "d", "score": "07.50"})
    assert portal.get_deal(deal_id)["score"] == "7.5"  # type: ignore[index]


def test_sandbox_rejects_duplicate_portal_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        Sandbox([PortalSpec("a", "t"), PortalSpec("a", "u")])
    with pytest.raises(KeyError, match="no portal"):
        Sandbox([PortalSpec("a", "t")]).portal("b")


def test_python_api_and_http_are_safe_together(partner: httpx.Client, sandbox: Sandbox) -> None:
    portal = sandbox.portal("partner")
    ids = portal.bulk_load([{"dealname": f"D{i}", "amount": "0"} for i in range(20)])
    errors: list[BaseException] = []

    def edit_many() -> None:
        try:
            for round_ in range(30):
                for deal_id in ids:
                    portal.edit_deal(deal_id, {"amount": str(round_)})
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=edit_many) for _ in range(3)]
    for worker in workers:
        worker.start()
    for _ in range(20):
        body = partner.post(f"{DEALS}/search", json={"limit": 50, "sorts": ["hs_lastmodifieddate"]})
        assert body.status_code == 200
        assert body.json()["total"] == 20
    for worker in workers:
        worker.join()
    assert errors == []
    assert {d["amount"] for d in portal.deals()} == {"29"}
