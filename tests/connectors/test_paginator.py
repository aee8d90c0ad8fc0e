"""The search-window paginator, driven against the fake's search handler (no HTTP)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sync_worker.connectors.hubspot.paginator import (
    SearchHit,
    SearchPaginator,
    largest_request_bytes,
    query_problems,
)
from sync_worker.kernel.clock import FakeClock, parse_datetime, to_epoch_ms
from sync_worker.kernel.errors import ConfigError, PermanentError
from sync_worker.kernel.filters import Filter, Scope
from tests.connectors.fake_hubspot import FakeHubSpot

REGISTERED = Filter("hs_num_associated_active_deal_registrations", "GT", "0")


def fake(cap: int = 10_000) -> FakeHubSpot:
    return FakeHubSpot(FakeClock(datetime(2026, 3, 1, tzinfo=UTC)), cap=cap)


def seed(hub: FakeHubSpot, count: int, *, step: float = 0.0) -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(hub.store.put({"hs_num_associated_active_deal_registrations": "1"}))
        hub.clock.advance(step)
    return ids


def drain(
    hub: FakeHubSpot,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    page_size: int = 200,
    on_page: Callable[[int], None] | None = None,
) -> tuple[list[SearchHit], list[dict[str, Any]]]:
    paginator = SearchPaginator(
        scope=Scope.all_of([REGISTERED]),
        since_ms=since_ms,
        until_ms=until_ms,
        properties=["dealname"],
        page_size=page_size,
    )
    hits: list[SearchHit] = []
    requests: list[dict[str, Any]] = []
    while (request := paginator.next_request()) is not None:
        requests.append(request)
        status, body = hub.search(request)
        assert status == 200, body  # never hits the 10k cap or the filter limits
        hits.extend(paginator.accept(body))
        if on_page is not None:
            on_page(len(requests))
    return hits, requests


def test_small_pull_is_one_request_per_page() -> None:
    hub = fake()
    ids = seed(hub, 450, step=0.01)

    hits, requests = drain(hub)

    assert sorted(h.id for h in hits) == sorted(ids)
    assert len(requests) == 3
    assert requests[0]["sorts"] == [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]
    # Keys, not offsets: the next page asks for ids above the last one read.
    assert "after" not in requests[1]
    last = max((h.id for h in hits[:200]), key=int)
    assert {"propertyName": "hs_object_id", "operator": "GT", "value": last} in (
        requests[1]["filterGroups"][0]["filters"]
    )


def test_each_page_reads_a_full_page_of_new_records_whatever_the_ties() -> None:
    hub = fake(cap=1_000)
    ids = seed(hub, 2_500, step=0.0005)  # two deals share each millisecond

    hits, requests = drain(hub)

    assert Counter(h.id for h in hits) == Counter(ids)  # each exactly once
    assert not any("after" in r for r in requests)
    assert len(requests) == 13  # ceil(2,500 / 200): no page re-reads a record


def test_more_than_ten_thousand_records_in_one_millisecond() -> None:
    hub = fake()
    before = seed(hub, 30, step=0.01)
    tie = seed(hub, 10_450)
    hub.clock.advance(0.01)
    after = seed(hub, 30, step=0.01)

    hits, requests = drain(hub)

    assert Counter(h.id for h in hits) == Counter(before + tie + after)
    assert all(len(r["filterGroups"][0]["filters"]) <= 6 for r in requests)
    assert len(requests) == 53  # ceil(10,510 / 200), past the 10k cap without an offset


def test_a_pull_from_a_moment_reads_what_was_modified_since() -> None:
    hub = fake()
    seed(hub, 50, step=0.01)
    moment = to_epoch_ms(hub.clock.now())
    tie = seed(hub, 1_000)

    hits, requests = drain(hub, since_ms=moment)

    assert {h.id for h in hits} == set(tie)
    assert len(requests) == 5


def test_records_modified_during_the_pull_shift_no_record_out_of_sight() -> None:
    hub = fake()
    ids = seed(hub, 1_000, step=0.001)

    def edit_early_records(pages_done: int) -> None:
        if pages_done in (1, 3):
            hub.clock.advance(1)
            for deal_id in ids[pages_done * 10 : pages_done * 10 + 25]:
                hub.store.edit(deal_id, {"dealname": "edited"})

    hits, _ = drain(hub, on_page=edit_early_records)

    assert set(ids) <= {h.id for h in hits}


def test_records_modified_after_the_pull_started_are_left_to_the_next_pull() -> None:
    """The upper bound: the worker's own writes during a pull never extend or restart it."""
    hub = fake()
    ids = seed(hub, 600, step=0.001)
    until = to_epoch_ms(hub.clock.now())

    def write_back(pages_done: int) -> None:
        hub.clock.advance(1)
        for deal_id in ids[(pages_done - 1) * 200 : pages_done * 200]:
            hub.store.edit(deal_id, {"dealname": "written by the worker"})

    hits, requests = drain(hub, until_ms=until, on_page=write_back)

    assert Counter(h.id for h in hits) == Counter(ids)
    assert len(requests) == 3  # one request a page: no record is read twice


def test_plain_offset_paging_would_have_missed_them() -> None:
    """Offsets shift when a record read already moves: why pages go by key."""
    hub = fake()
    ids = seed(hub, 600, step=0.001)
    seen: set[str] = set()
    for page in range(3):
        body = {"filterGroups": [], "sorts": [{"propertyName": "hs_lastmodifieddate"}]}
        status, reply = hub.search({**body, "limit": 200, "after": str(page * 200)})
        assert status == 200
        seen |= {r["id"] for r in reply["results"]}
        if page == 0:
            hub.clock.advance(1)
            for deal_id in ids[:10]:
                hub.store.edit(deal_id, {"dealname": "edited"})
    assert set(ids) - seen


def test_the_fake_enforces_the_cap_these_tests_rely_on() -> None:
    hub = fake()

    assert hub.search({"limit": 200, "after": "9800"})[0] == 200
    assert hub.search({"limit": 200, "after": "9801"})[0] == 400
    assert hub.search({"limit": 100, "after": "10000"})[0] == 400


def test_a_full_pull_without_scope_sends_no_empty_filter_group() -> None:
    paginator = SearchPaginator(scope=Scope(), since_ms=None, properties=[])

    request = paginator.next_request()

    assert request is not None
    assert request["filterGroups"] == []


def test_an_idle_pull_is_one_request() -> None:
    hub = fake()
    seed(hub, 3)

    hits, requests = drain(hub, since_ms=to_epoch_ms(hub.clock.now()) + 1)

    assert hits == []
    assert len(requests) == 1


def test_a_server_ignoring_the_query_cannot_make_it_loop_forever() -> None:
    paginator = SearchPaginator(scope=Scope(), since_ms=5, properties=[], page_size=2)
    same_page = {
        "total": 4,
        "results": [
            {"id": "1", "properties": {"hs_lastmodifieddate": "10"}},
            {"id": "2", "properties": {"hs_lastmodifieddate": "11"}},
        ],
        "paging": {"next": {"after": "2"}},
    }
    sent = 0
    while paginator.next_request() is not None and sent < 50:
        sent += 1
        paginator.accept(same_page)
    assert sent == 2  # the second answer brings no id above the last one read: the pull ends


def test_a_repeated_request_is_refused() -> None:
    paginator = SearchPaginator(scope=Scope(), since_ms=5, properties=[], page_size=2)
    paginator.next_request()
    paginator.accept({"results": [], "paging": {"next": {"after": "2"}}})
    paginator._done = False  # a bug that would send the same request again
    with pytest.raises(PermanentError, match="repeat"):
        paginator.next_request()


def test_scope_may_hold_at_most_four_filters() -> None:
    with pytest.raises(ConfigError, match="at most 4"):
        SearchPaginator(scope=Scope.all_of([REGISTERED] * 5), since_ms=None, properties=[])


def test_scope_filters_are_sent_in_hubspot_shape() -> None:
    paginator = SearchPaginator(
        scope=Scope.all_of(
            [
                REGISTERED,
                Filter("pipeline", "IN", values=("default", "referred")),
                Filter("amount", "HAS_PROPERTY"),
            ]
        ),
        since_ms=1_700_000_000_000,
        until_ms=1_700_000_060_000,
        properties=["amount"],
    )

    request = paginator.next_request()

    assert request is not None
    assert request["filterGroups"] == [
        {
            "filters": [
                {
                    "propertyName": "hs_num_associated_active_deal_registrations",
                    "operator": "GT",
                    "value": "0",
                },
                {"propertyName": "pipeline", "operator": "IN", "values": ["default", "referred"]},
                {"propertyName": "amount", "operator": "HAS_PROPERTY"},
                {
                    "propertyName": "hs_lastmodifieddate",
                    "operator": "BETWEEN",
                    "value": "1700000000000",
                    "highValue": "1700000060000",
                },
            ]
        }
    ]
    assert request["properties"] == ["amount", "hs_lastmodifieddate"]
    assert request["limit"] == 200


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-01-17T19:55:04.281Z", datetime(2024, 1, 17, 19, 55, 4, 281000, tzinfo=UTC)),
        ("1705521304281", datetime(2024, 1, 17, 19, 55, 4, 281000, tzinfo=UTC)),
        ("2024-01-17T19:55:04", None),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_datetime(raw: object, expected: datetime | None) -> None:
    assert parse_datetime(raw) == expected


def test_query_problems_see_a_body_hubspot_would_refuse() -> None:
    scope = Scope.all_of(
        [Filter("shared_partner_account", "IN", values=("agency-001", "agency-002"))]
    )
    fine = [f"property_number_{i:02d}" for i in range(20)]
    assert query_problems(scope, fine) == []
    many = [f"a_rather_long_custom_property_{i:03d}" for i in range(90)]
    [problem] = query_problems(scope, many)
    assert problem.startswith("a search request would be ")
    assert "HubSpot refuses bodies over 3000" in problem
    with pytest.raises(ConfigError, match="refuses bodies over 3000"):
        SearchPaginator(scope=scope, since_ms=None, properties=many)


def test_query_problems_measure_the_largest_request_a_pull_sends() -> None:
    """The estimate is an upper bound of every body the paginator builds: the widest window
    and the widest id to continue after."""
    scope = Scope.all_of(
        [Filter("dealstage", "NOT_IN", values=tuple(f"stage{i}" for i in range(30)))]
    )
    properties = [f"prop_{i}" for i in range(60)]
    bound = largest_request_bytes(scope, properties)
    p = SearchPaginator(
        scope=scope, since_ms=10**13 - 1, until_ms=10**13 - 1, properties=properties
    )
    p.next_request()
    p.accept({"results": [{"id": "9" * 20, "properties": {"hs_lastmodifieddate": "1"}}],
              "paging": {"next": {"after": "1"}}})  # fmt: skip
    body = p.next_request()
    size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    assert size <= bound
