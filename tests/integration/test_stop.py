"""Stopping and sharing: a stop request ends the cycle after a committed page (the rest follows
next cycle), and a second process never works on a pair while a cycle holds its lease."""

from __future__ import annotations

import threading

from sync_worker.kernel.model import Side
from sync_worker.sync.engine import CycleOptions, CycleReport
from tests.integration.world import PAIR, World


def test_a_stop_request_ends_the_cycle_and_the_next_one_finishes_the_work(world: World) -> None:
    partner_ids = [world.register(dealname=f"Deal {n}") for n in range(6)]
    ctx = world.context(partner=world.connector("partner", page_size=2))
    stop = threading.Event()

    def stop_after_the_first_page(side: Side, records: int, total: int | None) -> None:
        if records:
            stop.set()

    options = CycleOptions(stop=stop, progress=stop_after_the_first_page, unit_records=2)
    stopped = world.cycle(ctx, options)

    assert stopped.outcome == "stopped"
    created = stopped.counts["created.rep"]
    assert 0 < created < len(partner_ids)
    assert world.store.count_links(PAIR) == created
    assert len(world.rep.deals()) == created

    for _ in range(2):
        assert world.cycle(ctx).outcome == "ok"

    for partner_id in partner_ids:
        [rep_deal] = world.rep_deals_for(partner_id)
        assert world.partner_deal(partner_id)["rep_deal_id"] == rep_deal["hs_object_id"]
    assert world.store.count_links(PAIR) == len(partner_ids)


def test_a_second_process_is_skipped_while_a_cycle_runs(world: World) -> None:
    partner_id = world.register()
    meanwhile: list[CycleReport] = []

    def another_process_starts(side: Side, records: int, total: int | None) -> None:
        if not meanwhile:
            meanwhile.append(world.cycle(options=CycleOptions(owner="process-b")))

    first = world.cycle(options=CycleOptions(owner="process-a", progress=another_process_starts))

    assert first.outcome == "ok"
    assert [r.outcome for r in meanwhile] == ["skipped"]
    assert len(world.rep_deals_for(partner_id)) == 1
    # Once the first process is done, the second one may work on the pair.
    assert world.cycle(options=CycleOptions(owner="process-b")).outcome == "ok"
