"""The incremental pull misses nothing: edits made while a cycle runs, edits the search index
shows late, and writes stamped earlier than the cursor (covered by the connector's overlap)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from hubspot_sandbox import FaultSpec
from sync_worker.connectors.base import Connector, RecordUpdate, WriteResult
from sync_worker.kernel.clock import from_epoch_ms, to_epoch_ms
from sync_worker.kernel.model import Side
from sync_worker.state import SqlStateStore
from sync_worker.sync.engine import CycleOptions
from tests.integration.world import PAIR, World

SEARCH_CAP = 10_000  # HubSpot refuses to page a search past this many results


def test_edits_made_during_a_cycle_are_picked_up_by_the_next(world: World) -> None:
    (p1, r1), (p2, r2) = world.linked(amount="1000"), world.linked(amount="2000")
    world.settle(1)
    world.partner.edit_deal(p1, {"amount": "1100"})  # so the cycle pulls a page
    world.rep.edit_deal(r2, {"amount": "2100"})
    edited: set[Side] = set()

    def people_keep_working(side: Side, records: int, total: int | None) -> None:
        if side in edited:
            return
        edited.add(side)
        # Someone edits a deal of the page the worker has just processed.
        if side is Side.PARTNER:
            world.partner.edit_deal(p1, {"closedate": "2027-08-31T00:00:00.000Z"})
        else:
            world.rep.edit_deal(r2, {"closedate": "2027-07-31T00:00:00.000Z"})

    during = world.cycle(options=CycleOptions(progress=people_keep_working))
    assert during.outcome == "ok"
    assert edited == {Side.PARTNER, Side.REP}
    world.settle(3)

    assert world.rep_deal(r1)["amount"] == "1100"
    assert world.partner_deal(p2)["amount"] == "2100"
    assert world.rep_deal(r1)["closedate"] == "2027-08-31T00:00:00.000Z"
    assert world.partner_deal(p1)["closedate"] == "2027-08-31T00:00:00.000Z"
    assert world.partner_deal(p2)["closedate"] == "2027-07-31T00:00:00.000Z"
    assert world.rep_deal(r2)["closedate"] == "2027-07-31T00:00:00.000Z"


LAG = 1.0  # long enough that the blind cycle surely runs inside it, even on a loaded machine


def test_edits_the_search_index_shows_late_are_not_missed(world: World) -> None:
    partner_id, rep_id = world.linked()
    world.settle(1)
    for portal in (world.partner, world.rep):
        portal.set_faults(FaultSpec(index_lag_seconds=LAG))
    world.partner.edit_deal(partner_id, {"amount": "31000"})
    world.rep.edit_deal(rep_id, {"closedate": "2027-05-31T00:00:00.000Z"})

    blind = world.ok_cycle()  # the index does not show either edit yet
    assert blind.counts.get("updated.partner", 0) + blind.counts.get("updated.rep", 0) == 0
    time.sleep(LAG + 0.1)
    world.ok_cycle()
    time.sleep(LAG + 0.1)  # the worker's own writes become searchable too: they must plan nothing
    world.settle(2)

    for deal in (world.partner_deal(partner_id), world.rep_deal(rep_id)):
        assert deal["amount"] == "31000"
        assert deal["closedate"] == "2027-05-31T00:00:00.000Z"


def _cursor(store: SqlStateStore, side: Side) -> int:
    cursor = store.get_cursor(PAIR, side)
    assert cursor is not None
    return int(cursor.timestamp() * 1000)


def test_a_write_stamped_before_the_last_pull_started_is_covered_by_the_allowance(
    world: World,
) -> None:
    """A write HubSpot stamps before a pull started but that the pull did not see (a slow
    request, a lagging index) still arrives: the cursor stays one lag allowance
    (``overlap_seconds``) behind the last pull's start."""
    late_id, late_rep_id = world.linked(amount="1000")
    world.settle(2)
    cursor_ms = _cursor(world.store, Side.PARTNER)
    started_ms = to_epoch_ms(world.clock.now())
    assert cursor_ms < started_ms - 1000  # the allowance (5 s here) is kept behind

    stamped = from_epoch_ms(cursor_ms) + timedelta(milliseconds=100)
    world.partner.edit_deal(late_id, {"amount": "1234"}, at=stamped)
    world.settle(2)

    assert world.rep_deal(late_rep_id)["amount"] == "1234"
    assert world.partner_deal(late_id)["amount"] == "1234"


def test_hundreds_of_deals_stamped_in_one_millisecond_are_all_pulled(world: World) -> None:
    """An import stamps every deal with one ``hs_lastmodifieddate``; pages then hold a single
    timestamp, and deals edited mid-pull move behind the ones not read yet."""
    rows = [
        {
            "dealname": f"Imported referral {n}",
            "amount": str(100 + n),
            "shared_partner_account": PAIR,
        }
        for n in range(450)
    ]
    referred = world.rep.bulk_load(rows)
    ctx = world.context(rep=world.connector("rep", page_size=100))
    pages = 0

    def edit_while_paging(side: Side, records: int, total: int | None) -> None:
        nonlocal pages
        if side is Side.REP:
            pages += 1
            if pages == 1:  # one already read, one not read yet
                world.rep.edit_deal(referred[10], {"amount": "9010"})
                world.rep.edit_deal(referred[400], {"amount": "9400"})

    options = CycleOptions(progress=edit_while_paging, unit_records=100)  # a unit a page
    assert world.cycle(ctx, options).outcome == "ok"
    for _ in range(2):
        assert world.cycle(ctx).outcome == "ok"

    counterparts: dict[str, int] = {}
    for deal in world.partner.deals():
        rep_id = str(deal["rep_deal_id"])
        counterparts[rep_id] = counterparts.get(rep_id, 0) + 1
    assert counterparts == dict.fromkeys(referred, 1)
    assert pages >= 5
    by_rep = {d["rep_deal_id"]: d for d in world.partner.deals()}
    assert by_rep[referred[10]]["amount"] == "9010"
    assert by_rep[referred[400]]["amount"] == "9400"
    assert world.store.count_links(PAIR) == 450


class EditsBeforeEachWrite:
    """The rep connector, except that a person edits the deal about to be written just before
    each of the worker's updates lands (after the worker read it)."""

    def __init__(self, inner: Connector, person: Callable[[str], None]) -> None:
        self.inner = inner
        self.name = inner.name
        self.person = person

    def update(self, updates: Sequence[RecordUpdate]) -> WriteResult:
        for update in updates:
            self.person(update.id)
        return self.inner.update(updates)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_edit_landing_between_the_workers_read_and_write_is_not_lost(world: World) -> None:
    partner_id, rep_id = world.linked()
    world.partner.edit_deal(partner_id, {"amount": "64000"})
    edited: list[str] = []

    def rep_person(deal_id: str) -> None:
        if not edited:
            edited.append(deal_id)
            world.rep.edit_deal(deal_id, {"closedate": "2027-12-31T00:00:00.000Z"})

    racing = world.context(rep=EditsBeforeEachWrite(world.connector("rep"), rep_person))
    assert world.cycle(racing).outcome == "ok"
    assert edited == [rep_id]
    world.settle(3)

    for deal in (world.partner_deal(partner_id), world.rep_deal(rep_id)):
        assert deal["amount"] == "64000"
        assert deal["closedate"] == "2027-12-31T00:00:00.000Z"


@pytest.mark.slow
def test_more_changes_than_the_search_cap_are_all_pulled(world: World) -> None:
    """HubSpot's search pages no further than 10,000 results: 10,050 new referrals (three per
    millisecond) must still each get exactly one counterpart."""
    start = datetime.now(UTC) - timedelta(hours=3)
    referred = [
        world.rep.create_deal(
            {"dealname": f"Referral {n}", "shared_partner_account": PAIR},
            at=start + timedelta(milliseconds=n // 3),
        )
        for n in range(SEARCH_CAP + 50)
    ]

    with capture_logs():  # tens of thousands of events
        first, second = world.ok_cycle(), world.ok_cycle()

    assert first.counts["created.partner"] == len(referred)
    assert second.counts.get("created.partner", 0) == 0
    named = Counter(d.get("rep_deal_id") for d in world.partner.deals())
    assert named == dict.fromkeys(referred, 1)
    assert all(status < 400 for status in world.rep.counters["search"])
