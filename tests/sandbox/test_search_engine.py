"""The search engine without HTTP: cached/incremental answers equal a fresh scan; cost at 100k."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from hubspot_sandbox import Sandbox
from hubspot_sandbox.portal import Portal
from hubspot_sandbox.records import Deal
from hubspot_sandbox.search import run_search
from hubspot_sandbox.search_cache import SearchCache
from hubspot_sandbox.search_parse import parse_search
from sync_worker.kernel.clock import FakeClock
from tests.sandbox.conftest import specs

T0 = 1767225600000
REGISTERED = "hs_num_associated_active_deal_registrations"

QUERIES: list[dict[str, Any]] = [
    {"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(T0 + 2000)},
        {"propertyName": REGISTERED, "operator": "GT", "value": "0"},
    ]}], "sorts": ["hs_lastmodifieddate"]},
    {"filterGroups": [
        {"filters": [{"propertyName": "amount", "operator": "LT", "value": "50"}]},
        {"filters": [{"propertyName": "rep_deal_id", "operator": "HAS_PROPERTY"}]},
    ], "sorts": ["hs_lastmodifieddate"]},
    {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GTE", "value": "30"}]}],
     "sorts": ["-amount"]},
    {"query": "deal 1"},
]  # fmt: skip


def page_ids(portal: Portal, body: dict[str, Any], cache: SearchCache | None) -> list[str]:
    request = parse_search({**body, "limit": 200}, portal.book)
    page = run_search(request, portal.store, None, cache)
    return [str(d.id) for d in page.results] + [f"total={page.total}"]


def test_cached_results_follow_every_change() -> None:
    clock = FakeClock()
    portal = Sandbox(specs(), clock=clock).portal("partner")
    rng = random.Random(5)
    ids = [portal.create_deal({"dealname": f"Deal {i}", "amount": str(i)}) for i in range(120)]
    cache = SearchCache()
    for step in range(60):
        clock.advance(0.5)
        deal_id = rng.choice(ids)
        action = rng.random()
        if action < 0.1 and len(ids) > 20:
            portal.archive_deal(deal_id)
            ids.remove(deal_id)
        elif action < 0.3:
            portal.register_deal(deal_id)
        elif action < 0.5:
            portal.edit_deal(deal_id, {"rep_deal_id": f"R-{step}" if rng.random() < 0.7 else ""})
        else:
            portal.edit_deal(deal_id, {"amount": str(rng.randrange(100))})
        for body in QUERIES:
            assert page_ids(portal, body, cache) == page_ids(portal, body, None), (step, body)


class CountingLookup:
    """Counts the deals a search looks at: the cost of a page, with no timing involved."""

    def __init__(self, portal: Portal) -> None:
        self.real = portal.store.deal
        self.calls = 0
        portal.store.deal = self

    def __call__(self, deal_id: int) -> Deal:
        self.calls += 1
        return self.real(deal_id)

    def during(self, run: Callable[[], object]) -> int:
        before = self.calls
        run()
        return self.calls - before


@pytest.mark.slow
def test_paging_100k_deals_looks_only_at_the_page_once_a_query_is_known() -> None:
    """The connector pages at offsets up to 9,800; a page must not cost a scan of the portal.
    (Speed itself is measured by the benchmarks, never timed here.)"""
    portal = Sandbox(specs(), clock=FakeClock()).portal("partner")
    row = {
        "dealname": "Deal", "amount": "1500", "closedate": "2026-05-01T00:00:00Z",
        "product_interest": "Sales Hub Professional;HubSpot CMS",
        "shared_deal_team": "ada.lovelace@agency.example;rita.rep@hubspot.example",
    }  # fmt: skip
    for chunk in range(4):
        rows = [{**row, "rep_deal_id": f"{chunk}-{i}" if i % 2 else ""} for i in range(25_000)]
        portal.bulk_load(rows)
    cursor = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(T0)}
    scope = {"propertyName": "rep_deal_id", "operator": "HAS_PROPERTY"}  # half of the deals
    incremental = {"filterGroups": [{"filters": [cursor]}], "sorts": ["hs_lastmodifieddate"]}
    scoped = {"filterGroups": [{"filters": [cursor, scope]}], "sorts": ["hs_lastmodifieddate"]}
    cache = SearchCache()
    lookups = CountingLookup(portal)

    def page(body: dict[str, Any], after: str) -> Callable[[], object]:
        request = parse_search({**body, "limit": 200, "after": after}, portal.book)
        return lambda: run_search(request, portal.store, None, cache)

    assert lookups.during(page(incremental, "9800")) == 200  # answered from the index
    assert lookups.during(page(scoped, "9800")) > 100_000 - 1  # the first time: one scan
    assert lookups.during(page(scoped, "9600")) == 200  # then from the cache
    portal.edit_deal(str(portal.store.active_ids()[7]), {"amount": "1"})
    assert lookups.during(page(scoped, "9400")) <= 200 + 2  # an edit refreshes, not rescans


def test_lagged_search_equals_a_replay_of_the_past() -> None:
    clock = FakeClock()
    portal = Sandbox(specs(), clock=clock).portal("partner")
    rng = random.Random(9)
    ids: list[str] = []
    body = {
        "filterGroups": [{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(T0 + 3000)},
            {"propertyName": "amount", "operator": "LT", "value": "50"},
        ]}],
        "sorts": ["hs_lastmodifieddate"],
        "limit": 200,
    }  # fmt: skip
    request = parse_search(body, portal.book)
    for _ in range(80):
        clock.advance(0.25)
        if not ids or rng.random() < 0.3:
            ids.append(portal.create_deal({"dealname": "d", "amount": str(rng.randrange(100))}))
        else:
            portal.edit_deal(rng.choice(ids), {"amount": str(rng.randrange(100))})
        cutoff = portal.now_ms() - 2000
        expected = []
        for deal_id in ids:
            past = portal.store.deal(int(deal_id)).as_of(cutoff)
            if past and past.modified_ms >= T0 + 3000 and float(past.values["amount"]) < 50:
                expected.append((past.modified_ms, past.id, past.values["amount"]))
        page = run_search(request, portal.store, cutoff)
        got = [(d.modified_ms, d.id, d.values["amount"]) for d in page.results]
        assert got == sorted(expected)
