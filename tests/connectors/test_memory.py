"""InMemoryConnector's own behaviour: test hooks, validation, call accounting, filter semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_worker.connectors.base import Filter, PropertyDef, RecordCreate, RecordUpdate, User
from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.errors import PermanentError
from sync_worker.kernel.filters import Scope, matches
from tests.doubles.memory import InMemoryConnector

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def crm(clock: FakeClock) -> InMemoryConnector:
    return InMemoryConnector(clock, users=[User("1", "Ann@X.example")])


def test_put_edit_archive_get_and_all(crm: InMemoryConnector, clock: FakeClock) -> None:
    deal_id = crm.put({"dealname": "A", "amount": "5"})
    clock.advance(30)
    edited = crm.edit(deal_id, {"amount": "6"})
    other = crm.put({"dealname": "B"}, at=START + timedelta(days=1))
    crm.archive(other)

    assert edited.modified_at == START + timedelta(seconds=30)
    assert edited.properties["amount"] == "6"
    assert [r.id for r in crm.all()] == [deal_id]
    assert [r.id for r in crm.all(include_archived=True)] == [deal_id, other]
    archived = crm.get(other)
    assert archived is not None
    assert archived.archived
    assert crm.get("nope") is None


def test_edit_stamps_only_the_properties_that_changed(
    crm: InMemoryConnector, clock: FakeClock
) -> None:
    deal_id = crm.put({"dealname": "A", "amount": "5"})
    clock.advance(60)

    record = crm.edit(deal_id, {"dealname": "A", "amount": "7"})
    full = crm.get(deal_id)

    assert record.modified_at == START + timedelta(seconds=60)
    assert full is not None
    assert full.property_timestamps["dealname"] == START
    assert full.property_timestamps["amount"] == START + timedelta(seconds=60)


def test_rejections_fail_only_matching_writes(crm: InMemoryConnector) -> None:
    a, b = crm.put({"dealname": "a"}), crm.put({"dealname": "b"})
    crm.reject_property("amount", lambda v: float(v) > 1000, "VALIDATION_ERROR: too big")
    crm.reject_property("dealname", "bad", "VALIDATION_ERROR: bad name")

    result = crm.update(
        [
            RecordUpdate(a, {"amount": "5000"}),
            RecordUpdate(b, {"amount": "10", "dealname": "fine"}),
        ]
    )
    named = crm.update([RecordUpdate(b, {"dealname": "bad"})])

    assert [f.reason for f in result.failed] == ["VALIDATION_ERROR: too big"]
    assert set(result.written) == {b}
    assert named.failed[0].reason == "VALIDATION_ERROR: bad name"


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"nope": "1"}, 'PROPERTY_DOESNT_EXIST: Property "nope" does not exist'),
        ({"hs_object_id": "1"}, "READ_ONLY_VALUE"),
        ({"amount": "lots"}, "INVALID_FLOAT"),
        ({"product_interest": "HubSpot CMS;Vapourware"}, "INVALID_OPTION: Vapourware"),
        ({"pipeline": "nope"}, "INVALID_OPTION"),
        ({"dealstage": "closedwon"}, None),
        ({"hubspot_owner_id": "1"}, None),
        ({"hubspot_owner_id": "2"}, "INVALID_OPTION"),
        ({"amount": ""}, None),
    ],
)
def test_validation_like_hubspot(
    crm: InMemoryConnector, props: dict[str, str], reason: str | None
) -> None:
    deal_id = crm.put({"dealname": "x"})

    result = crm.update([RecordUpdate(deal_id, props)])

    if reason is None:
        assert result.failed == ()
    else:
        assert reason in result.failed[0].reason


def test_unique_values_cannot_be_shared(crm: InMemoryConnector) -> None:
    first = crm.put({"partner_deal_id": "P-1"})
    second = crm.put({})

    result = crm.update([RecordUpdate(second, {"partner_deal_id": "P-1"})])
    again = crm.update([RecordUpdate(first, {"partner_deal_id": "P-1"})])

    assert "CONFLICT" in result.failed[0].reason
    assert again.failed == ()


def test_upsert_needs_a_unique_property(crm: InMemoryConnector) -> None:
    with pytest.raises(PermanentError, match="unique"):
        crm.upsert([RecordCreate("k", {"dealname": "x"})], "dealname")


def test_upsert_ignores_archived_holders_of_the_key(crm: InMemoryConnector) -> None:
    old = crm.put({"partner_deal_id": "P-9"})
    crm.archive(old)

    new = {"dealname": "new", "dealstage": "appointmentscheduled"}
    result = crm.upsert([RecordCreate("P-9", new)], "partner_deal_id")

    assert result.written["P-9"].id != old


def test_api_calls_are_counted_as_hubspot_would_charge(
    crm: InMemoryConnector, clock: FakeClock
) -> None:
    ids = [crm.put({"dealname": str(n)}) for n in range(450)]
    clock.advance(1)  # a pull reads what was modified before it started

    list(crm.changes(None, Scope(), ["dealname"]))  # 3 pages
    crm.read(ids, ["dealname"])  # 5 batches
    crm.read(ids[:120], ["dealname"], with_history=True)  # 3 batches of 50
    crm.update([RecordUpdate(i, {"amount": "1"}) for i in ids[:201]])  # 3 batches
    crm.users()  # 1 page
    crm.pipelines()
    crm.property_definitions()

    assert crm.api_calls() == 3 + 5 + 3 + 3 + 1 + 1 + 1


def test_custom_properties_users_and_pipelines(clock: FakeClock) -> None:
    crm = InMemoryConnector(clock, properties=[PropertyDef("dealname", "string")])
    crm.define_property(PropertyDef("team", "string"))
    crm.set_users([User("9", "Zed@Example.com")])
    crm.set_pipelines([])

    assert set(crm.property_definitions()) == {"dealname", "team"}
    assert crm.users() == (User("9", "zed@example.com"),)
    assert crm.pipelines() == ()


def test_the_cursor_keeps_the_lag_allowance_behind(clock: FakeClock) -> None:
    crm = InMemoryConnector(clock, overlap=timedelta(seconds=60))
    early = crm.put({"dealname": "early"})
    clock.advance(30)

    *_, last = crm.changes(None, Scope(), [])
    pulled = [r.id for p in crm.changes(last.cursor, Scope(), []) for r in p.records]

    assert last.cursor == clock.now() - timedelta(seconds=60)
    assert pulled == [early]


def test_search_hook_pages_by_modification_or_id(crm: InMemoryConnector, clock: FakeClock) -> None:
    first = crm.put({"dealname": "1"})
    clock.advance(1)
    second = crm.put({"dealname": "2"})
    clock.advance(1)
    crm.edit(first, {"dealname": "1b"})

    total, by_time = crm.search(Scope(), limit=1, offset=1)
    _, by_id = crm.search(Scope(), by_id=True)

    assert total == 2
    assert [r.id for r in by_time] == [first]
    assert [r.id for r in by_id] == [first, second]


NUMBER = PropertyDef("amount", "number", "number")
WHEN = PropertyDef("closedate", "datetime", "date")
STAGE = PropertyDef("dealstage", "enumeration", "radio")
MULTI = PropertyDef("product_interest", "enumeration", "checkbox")
TEXT = PropertyDef("dealname", "string")


@pytest.mark.parametrize(
    ("item", "raw", "prop", "expected"),
    [
        (Filter("amount", "GT", "0"), "1", NUMBER, True),
        (Filter("amount", "GT", "10"), "9.5", NUMBER, False),
        (Filter("amount", "GT", "0"), None, NUMBER, False),
        (Filter("amount", "LTE", "100"), "100.00", NUMBER, True),
        (Filter("amount", "EQ", "100"), "100.00", NUMBER, True),
        (Filter("amount", "BETWEEN", values=("1", "5")), "5", NUMBER, True),
        (Filter("amount", "GT", "0"), "many", NUMBER, False),
        (Filter("closedate", "GTE", "1767225600000"), "2026-01-01T00:00:00Z", WHEN, True),
        (Filter("closedate", "LT", "2026-01-01T00:00:00Z"), "1767225599999", WHEN, True),
        (Filter("dealname", "EQ", "ACME"), "acme", TEXT, True),
        (Filter("dealstage", "EQ", "ClosedWon"), "closedwon", STAGE, False),
        (Filter("dealstage", "IN", values=("a", "b")), "b", STAGE, True),
        (Filter("dealstage", "NOT_IN", values=("a", "b")), "c", STAGE, True),
        (Filter("dealstage", "NOT_IN", values=("a",)), None, STAGE, True),
        (Filter("dealstage", "NEQ", "a"), None, STAGE, True),
        (Filter("dealstage", "NEQ", "a"), "a", STAGE, False),
        (Filter("product_interest", "EQ", "B"), "A;B", MULTI, True),
        (Filter("product_interest", "NEQ", "B"), "A;B", MULTI, False),
        (Filter("product_interest", "IN", values=("C", "A")), ";A", MULTI, True),
        (Filter("dealname", "HAS_PROPERTY"), "", TEXT, False),
        (Filter("dealname", "HAS_PROPERTY"), "x", TEXT, True),
        (Filter("dealname", "NOT_HAS_PROPERTY"), None, TEXT, True),
        (Filter("unknown", "EQ", "x"), "X", None, True),
    ],
)
def test_filter_semantics(
    item: Filter, raw: str | None, prop: PropertyDef | None, expected: bool
) -> None:
    assert matches(item, raw, prop) is expected


def test_unknown_operator_is_refused() -> None:
    with pytest.raises(PermanentError, match="CONTAINS_TOKEN"):
        matches(Filter("dealname", "CONTAINS_TOKEN", "a*"), "abc", TEXT)
