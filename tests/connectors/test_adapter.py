"""HubSpotConnector over respx: request shapes, 207 handling, bisection, caching, mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from pydantic import SecretStr

from sync_worker.connectors.base import RecordCreate, RecordUpdate, User
from sync_worker.connectors.hubspot import HubSpotConnector, make_hubspot_connector
from sync_worker.kernel.clock import FakeClock, to_epoch_ms
from sync_worker.kernel.errors import PermanentError
from sync_worker.kernel.filters import Scope
from tests.connectors.fake_hubspot import TOKEN, FakeHubSpot, error_body
from tests.doubles.memory import InMemoryConnector

BASE = "https://api.hubapi.test/portal-9"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Hub:
    fake: FakeHubSpot
    connector: HubSpotConnector
    clock: FakeClock
    router: respx.MockRouter

    def bodies(self, suffix: str) -> list[dict[str, object]]:
        return [json.loads(r.content) for r in self.fake.requests if r.url.path.endswith(suffix)]


@pytest.fixture
def hub() -> Iterator[Hub]:
    clock = FakeClock(START)
    users = [User(str(100 + n), f"User{n}@Example.COM") for n in range(250)]
    fake = FakeHubSpot(clock, store=InMemoryConnector(clock, users=users))
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.route().mock(side_effect=fake.handle)
        connector = make_hubspot_connector(
            name="rep",
            base_url=BASE,
            token=SecretStr(TOKEN),
            tier="enterprise",
            clock=clock,
            overlap_seconds=120,
        )
        yield Hub(fake, connector, clock, router)
        connector.close()


STAGE = {"dealstage": "appointmentscheduled"}  # HubSpot creates a deal only with a stage


def seed(hub: Hub, count: int) -> list[str]:
    ids = []
    for n in range(count):
        ids.append(hub.fake.store.put({"dealname": f"D{n}", "amount": "10"}))
        hub.clock.advance(0.01)
    return ids


def test_changes_reads_up_to_the_pull_start_and_keeps_the_lag_allowance_behind(hub: Hub) -> None:
    ids = seed(hub, 3)
    since = START + timedelta(minutes=5)
    hub.clock.advance(600)
    hub.fake.store.edit(ids[1], {"dealname": "new"})
    edited_at = hub.clock.now()
    hub.clock.advance(1)
    started = hub.clock.now()

    page, last = list(hub.connector.changes(since, Scope(), ["dealname"]))

    (request,) = hub.bodies("/search")
    window = request["filterGroups"][0]["filters"]  # type: ignore[index]
    assert window == [
        {
            "propertyName": "hs_lastmodifieddate",
            "operator": "BETWEEN",
            "value": str(to_epoch_ms(since)),
            "highValue": str(to_epoch_ms(started)),
        }
    ]
    assert [r.id for r in page.records] == [ids[1]]
    assert page.records[0].modified_at == edited_at
    assert page.records[0].properties["dealname"] == "new"
    assert page.cursor is None  # pages come in id order: only the pull's end moves the cursor
    assert page.total == 1
    # The pull ends with an empty page carrying its start, less the allowance for index lag.
    assert last.records == ()
    assert last.cursor == started - timedelta(seconds=120)


def test_an_idle_pull_still_moves_the_cursor_on(hub: Hub) -> None:
    seed(hub, 3)
    hub.clock.advance(3600)

    (last,) = list(hub.connector.changes(hub.clock.now() - timedelta(minutes=10), Scope(), []))

    assert last.records == ()
    assert last.cursor == hub.clock.now() - timedelta(seconds=120)
    assert len(hub.bodies("/search")) == 1


def test_read_sends_the_right_batch_shape_and_maps_missing_ids(hub: Hub) -> None:
    ids = seed(hub, 3)

    result = hub.connector.read([ids[0], "404", ids[2]], ["dealname"])

    (body,) = hub.bodies("/batch/read")
    assert body["inputs"] == [{"id": ids[0]}, {"id": "404"}, {"id": ids[2]}]
    assert "propertiesWithHistory" not in body
    assert "idProperty" not in body
    assert set(result.found) == {ids[0], ids[2]}
    assert result.missing == ("404",)


def test_read_with_history_uses_batches_of_fifty(hub: Hub) -> None:
    ids = seed(hub, 120)

    result = hub.connector.read(ids, ["dealname"], with_history=True)

    bodies = hub.bodies("/batch/read")
    assert [len(b["inputs"]) for b in bodies] == [50, 50, 20]  # type: ignore[arg-type]
    assert all(b["propertiesWithHistory"] == ["dealname"] for b in bodies)
    assert len(result.found) == 120


def test_history_takes_the_newest_entry_whatever_the_order(hub: Hub) -> None:
    hub.fake.inject(
        httpx.Response(
            200,
            json={
                "status": "COMPLETE",
                "results": [
                    {
                        "id": "7",
                        "properties": {"amount": "3", "hs_lastmodifieddate": "1772366400000"},
                        "propertiesWithHistory": {
                            "amount": [
                                {
                                    "value": "1",
                                    "timestamp": "2026-01-01T00:00:00Z",
                                    "sourceType": "API",
                                },
                                {
                                    "value": "3",
                                    "timestamp": "2026-02-01T00:00:00.000Z",
                                    "sourceType": "CRM_UI",
                                },
                                {
                                    "value": "2",
                                    "timestamp": "2026-01-15T00:00:00Z",
                                    "sourceType": "API",
                                },
                            ]
                        },
                        "createdAt": "2025-12-01T00:00:00Z",
                        "updatedAt": "2026-03-01T12:00:00Z",
                        "archived": False,
                    }
                ],
            },
        )
    )

    record = hub.connector.read(["7"], ["amount", "dealname"], with_history=True).found["7"]

    assert record.property_timestamps == {"amount": datetime(2026, 2, 1, tzinfo=UTC)}
    assert record.properties["dealname"] is None  # asked for, absent from the response
    assert record.modified_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_update_sends_unique_trace_ids_and_classifies_207_errors(hub: Hub) -> None:
    good, bad, gone = seed(hub, 3)
    hub.fake.store.archive(gone)
    hub.fake.store.reject_property("dealname", "forbidden", "INVALID_OPTION: not allowed")

    result = hub.connector.update(
        [
            RecordUpdate(good, {"dealname": "fine"}),
            RecordUpdate(bad, {"dealname": "forbidden"}),
            RecordUpdate(gone, {"dealname": "fine"}),
        ]
    )

    (body,) = hub.bodies("/batch/update")
    traces = [i["objectWriteTraceId"] for i in body["inputs"]]  # type: ignore[attr-defined]
    assert len(set(traces)) == 3
    assert set(result.written) == {good}
    failures = {f.id: f for f in result.failed}
    assert failures[gone].gone
    assert "INVALID_OPTION: not allowed" in failures[bad].reason
    assert not failures[bad].gone


def test_update_splits_into_batches_of_one_hundred(hub: Hub) -> None:
    ids = seed(hub, 250)

    result = hub.connector.update([RecordUpdate(i, {"amount": "5"}) for i in ids])

    assert [len(b["inputs"]) for b in hub.bodies("/batch/update")] == [100, 100, 50]  # type: ignore[arg-type]
    assert len(result.written) == 250


def test_an_all_or_nothing_400_is_bisected_so_only_bad_records_fail(hub: Hub) -> None:
    ids = seed(hub, 64)
    hub.fake.all_or_nothing = True
    bad = {ids[5], ids[40]}
    updates = [RecordUpdate(i, {"amount": "oops" if i in bad else "7"}) for i in ids]

    result = hub.connector.update(updates)

    assert {f.id for f in result.failed} == bad
    assert len(result.written) == 62
    assert all("INVALID_FLOAT" in f.reason for f in result.failed)
    assert hub.fake.count("/batch/update") <= 2 * 2 * 6 + 1  # ~2 bad records x log2(64) levels


def test_other_whole_batch_errors_are_raised(hub: Hub) -> None:
    ids = seed(hub, 2)
    hub.fake.inject(httpx.Response(400, json=error_body("INVALID_JSON", "Bad body")))

    with pytest.raises(
        PermanentError, match="POST /crm/v3/objects/deals/batch/update: HubSpot 400: INVALID_JSON"
    ):
        hub.connector.update([RecordUpdate(i, {"amount": "1"}) for i in ids])


@pytest.mark.parametrize("echo", [False, True])
def test_upsert_shape_and_keys(hub: Hub, echo: bool) -> None:
    hub.fake.echo_trace_ids = echo
    creates = [RecordCreate(f"P-{n}", {"dealname": f"n{n}", **STAGE}) for n in range(3)]

    result = hub.connector.upsert(creates, "partner_deal_id")

    (body,) = hub.bodies("/batch/upsert")
    first = body["inputs"][0]  # type: ignore[index]
    assert first["id"] == "P-0"
    assert first["idProperty"] == "partner_deal_id"
    assert first["properties"] == {"dealname": "n0", **STAGE}
    assert first["objectWriteTraceId"]
    assert set(result.written) == {"P-0", "P-1", "P-2"}
    assert result.written["P-1"].properties["partner_deal_id"] == "P-1"


def test_users_are_paged_lower_cased_and_cached_per_ttl(hub: Hub) -> None:
    users = hub.connector.users()
    again = hub.connector.users()

    assert len(users) == 250
    assert users == again
    assert all(u.email == u.email.lower() for u in users)
    assert hub.fake.count("/owners") == 3
    hub.clock.advance(301)
    hub.connector.users()
    assert hub.fake.count("/owners") == 6  # refetched (3 pages) once the TTL passed


def test_pipelines_and_properties_are_mapped_and_cached(hub: Hub) -> None:
    pipelines = hub.connector.pipelines()
    defs = hub.connector.property_definitions()
    hub.connector.pipelines()
    hub.connector.property_definitions()

    assert [p.id for p in pipelines] == ["default", "referred_deals"]
    assert pipelines[1].stages[0].id == "referred_new"
    assert defs["product_interest"].type == "enumeration"
    assert defs["product_interest"].field_type == "checkbox"
    assert "HubSpot CMS" in defs["product_interest"].options
    assert defs["rep_deal_id"].unique
    assert defs["createdate"].read_only
    assert hub.fake.count("/pipelines/deals") == 1
    assert hub.fake.count("/properties/deals") == 1


def test_api_calls_count_every_request_including_retries(hub: Hub) -> None:
    (deal_id,) = seed(hub, 1)
    hub.fake.inject(httpx.Response(502), httpx.Response(503))

    hub.connector.read([deal_id], ["dealname"])

    assert hub.connector.api_calls() == 3
    assert len(hub.fake.requests) == 3


def test_an_id_named_twice_is_sent_once_with_merged_properties(hub: Hub) -> None:
    (deal_id,) = seed(hub, 1)

    result = hub.connector.update(
        [RecordUpdate(deal_id, {"amount": "1"}), RecordUpdate(deal_id, {"dealname": "x"})]
    )

    (body,) = hub.bodies("/batch/update")
    assert body["inputs"][0]["properties"] == {"amount": "1", "dealname": "x"}  # type: ignore[index]
    assert len(body["inputs"]) == 1  # type: ignore[arg-type]
    assert result.written[deal_id].properties["dealname"] == "x"


def test_an_upsert_result_without_its_key_is_read_back(hub: Hub) -> None:
    deal_id = hub.fake.store.put({"partner_deal_id": "P-5", "dealname": "old"})
    hub.fake.inject(
        httpx.Response(
            200,
            json={
                "status": "COMPLETE",
                "results": [
                    {
                        "id": deal_id,
                        "properties": {"hs_lastmodifieddate": "2026-03-01T12:00:00.000Z"},
                        "createdAt": "2026-03-01T12:00:00.000Z",
                        "updatedAt": "2026-03-01T12:00:00.000Z",
                        "archived": False,
                    }
                ],
            },
        )
    )

    result = hub.connector.upsert(
        [
            RecordCreate("P-5", {"dealname": "new", **STAGE}),
            RecordCreate("P-6", {"dealname": "x", **STAGE}),
        ],
        "partner_deal_id",
    )

    assert result.written["P-5"].id == deal_id
    assert [f.id for f in result.failed] == ["P-6"]  # acknowledged but nowhere to be found
    assert hub.bodies("/batch/read")[0]["idProperty"] == "partner_deal_id"


def test_a_whole_batch_conflict_is_bisected_too(hub: Hub) -> None:
    conflict = error_body("CONFLICT", "Deal already exists. Existing ID: 1")
    # the batch of 4, then its first half, then P-0 alone: P-0 is the culprit
    hub.fake.inject(*(httpx.Response(409, json=conflict) for _ in range(3)))
    creates = [RecordCreate(f"P-{n}", {"dealname": f"n{n}", **STAGE}) for n in range(4)]

    result = hub.connector.upsert(creates, "partner_deal_id")

    assert [f.id for f in result.failed] == ["P-0"]
    assert "CONFLICT" in result.failed[0].reason
    assert set(result.written) == {"P-1", "P-2", "P-3"}
