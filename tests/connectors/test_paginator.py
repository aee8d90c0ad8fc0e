"""The search-window paginator, driven against the fake's search handler (no HTTP)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sync_worker.connectors.hubspot.paginator import (
    SEARCH_CAP,
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
    page_size: int = 200,
    on_page: Callable[[int], None] | None = None,
) -> tuple[list[SearchHit], list[dict[str, Any]]]:
    paginator = SearchPaginator(
        scope=Scope.all_of([REGISTERED]),
        since_ms=since_ms,
        properties=["dealname"],
        page_size=page_size,
        cap=hub.cap,
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

    assert [h.id for h in hits] == ids
    assert len(requests) == 3
    assert requests[0]["sorts"] == [
        {"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}
    ]
    assert requests[1]["after"] == "199"  # one record of overlap to detect shifts


def test_restarts_the_window_before_the_cap_and_drops_duplicates() -> None:
    hub = fake(cap=1_000)
    ids = seed(hub, 2_500, step=0.0005)  # two deals share each millisecond

    hits, requests = drain(hub)

    assert Counter(h.id for h in hits) == Counter(ids)
    assert all(int(r.get("after", 0)) + r["limit"] <= 1_000 for r in requests)
    windows = [r for r in requests if "after" not in r]
    assert len(windows) >= 3
    assert len(requests) <= 2_500 / 199 + len(windows) + 1


def test_more_than_ten_thousand_records_in_one_millisecond() -> None:
    hub = fake()
    before = seed(hub, 30, step=0.01)
    tie = seed(hub, 10_450)
    hub.clock.advance(0.01)
    after = seed(hub, 30, step=0.01)

    hits, requests = drain(hub)

    assert Counter(h.id for h in hits) == Counter(before + tie + after)
    tiebreak = [r for r in requests if r["sorts"][0]["propertyName"] == "hs_object_id"]
    assert tiebreak, "the tiebreak query was used"
    assert all(len(r["filterGroups"][0]["filters"]) <= 6 for r in requests)
    assert len(requests) <= 10_510 / 200 + 4


def test_a_pull_starting_inside_a_huge_tie_uses_the_tiebreak_at_once() -> None:
    hub = fake()
    tie = seed(hub, 1_000)
    moment = to_epoch_ms(hub.clock.now())

    hits, requests = drain(hub, since_ms=moment)

    assert {h.id for h in hits} == set(tie)
    assert len(hits) == 1_000
    assert len(requests) == 1 + 5 + 1  # first page, 5 tiebreak pages, GT t


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


def test_plain_offset_paging_would_have_missed_them() -> None:
    """The scenario above, without the overlap check: proves the test can fail."""
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


def test_boundary_memory_is_bounded_by_the_cap() -> None:
    hub = fake(cap=400)
    seed(hub, 3_000)  # all in one millisecond
    paginator = SearchPaginator(scope=Scope(), since_ms=None, properties=[], cap=400)
    largest = 0
    while (request := paginator.next_request()) is not None:
        paginator.accept(hub.search(request)[1])
        largest = max(largest, paginator.remembered_ids)
    assert largest <= 400


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
    sent: list[int] = []

    def pull() -> None:
        while paginator.next_request() is not None and len(sent) < 50:
            sent.append(1)
            paginator.accept(same_page)

    with pytest.raises(PermanentError, match="repeat"):
        pull()
    assert len(sent) < 10


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
                    "operator": "GTE",
                    "value": "1700000000000",
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
    """The estimate is an upper bound of every body the paginator can build: a tie request
    with the widest timestamp and id, and a range request at the deepest offset."""
    scope = Scope.all_of(
        [Filter("dealstage", "NOT_IN", values=tuple(f"stage{i}" for i in range(30)))]
    )
    properties = [f"prop_{i}" for i in range(60)]
    bound = largest_request_bytes(scope, properties)
    p = SearchPaginator(scope=scope, since_ms=10**13 - 1, properties=properties)
    p._tie, p._tie_after = 10**13 - 1, "9" * 20
    p._offset = SEARCH_CAP
    for body in (p._tie_body(), p._range_body()):
        size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
        assert size <= bound
