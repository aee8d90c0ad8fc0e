"""A backfill dry run shows what would change and changes nothing: not the CRMs, not the state."""

from __future__ import annotations

from datetime import UTC, datetime

from hubspot_sandbox import seed_demo
from sync_worker.kernel.model import Side
from sync_worker.sync.engine import CycleOptions
from tests.integration.world import PAIR, World, named_partner_deal, snapshot, writes


def test_a_backfill_dry_run_writes_nothing_and_reports_the_plan(world: World) -> None:
    seed_demo(world.sandbox, deals=40, seed=7)
    partner_before, rep_before = snapshot(world.partner), snapshot(world.rep)
    registered = [
        d["hs_object_id"]
        for d in partner_before
        if d["hs_num_associated_active_deal_registrations"] == "1" and not d.get("rep_deal_id")
    ]
    referred = [
        d["hs_object_id"]
        for d in rep_before
        if d.get("shared_partner_account") == PAIR and not d.get("partner_deal_id")
    ]
    assert registered
    assert referred

    report = world.cycle(
        options=CycleOptions(mode="backfill", since=datetime(2020, 1, 1, tzinfo=UTC), dry_run=True)
    )

    assert report.outcome == "ok"
    assert snapshot(world.partner) == partner_before
    assert snapshot(world.rep) == rep_before
    assert writes(world.partner) == writes(world.rep) == 0
    assert world.store.count_links(PAIR) == 0
    assert world.store.get_cursor(PAIR, Side.PARTNER) is None
    assert world.store.get_cursor(PAIR, Side.REP) is None
    status = world.store.status([PAIR])[0]
    assert status.last_run is None
    assert status.dead_letters == 0
    assert world.store.pending(PAIR, Side.PARTNER, [str(i) for i in registered]) == set()
    creates = [i for i in report.intentions if i.action == "create"]
    assert sorted(i.side for i in creates) == sorted(
        [Side.REP] * len(registered) + [Side.PARTNER] * len(referred)
    )
    assert {
        named_partner_deal(i.properties.get("partner_deal_id"))
        for i in creates
        if i.side is Side.REP
    } == set(registered)
    assert report.planned
    assert {c.field for c in report.planned} >= {"dealname", "amount"}
    assert report.counts["created.rep"] == len(registered)


def test_a_dry_run_plans_exactly_what_the_real_backfill_does(world: World) -> None:
    seed_demo(world.sandbox, deals=40, seed=7)
    since = datetime(2020, 1, 1, tzinfo=UTC)

    dry = world.cycle(options=CycleOptions(mode="backfill", since=since, dry_run=True))
    real = world.cycle(options=CycleOptions(mode="backfill", since=since))

    assert real.outcome == "ok"
    targets = [(i.side, i.action, i.record_id) for i in dry.intentions]
    assert len(targets) == len(set(targets))
    changes = [(c.partner_id, c.side_written, c.field) for c in dry.planned]
    assert len(changes) == len(set(changes))
    for key in ("created.rep", "created.partner", "updated.rep", "fields_changed", "linked"):
        assert dry.counts[key] == real.counts[key], key


def test_a_backfill_of_a_synced_pair_writes_nothing(world: World) -> None:
    seed_demo(world.sandbox, deals=40, seed=3)
    world.settle(2)
    written = (writes(world.partner), writes(world.rep))
    cursors = [world.store.get_cursor(PAIR, side) for side in Side]

    report = world.cycle(
        options=CycleOptions(mode="backfill", since=datetime(2020, 1, 1, tzinfo=UTC))
    )

    assert report.outcome == "ok"
    assert report.counts["pulled.partner"] > 0
    assert (writes(world.partner), writes(world.rep)) == written
    assert report.counts.get("fields_changed", 0) == 0
    # Having read everything up to its start, the backfill may only move the cursors on.
    after = [world.store.get_cursor(PAIR, side) for side in Side]
    assert all(
        a is not None and c is not None and a >= c for a, c in zip(after, cursors, strict=True)
    )
