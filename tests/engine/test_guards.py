"""The guards users never see: stale snapshots, echoes and dead letters, decided page by page."""

from __future__ import annotations

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.plan import Directory
from sync_worker.sync.engine import PROCESS_OWNER, UNIT_RECORDS, CycleOptions, run_cycle
from sync_worker.sync.processor import PageProcessor
from sync_worker.sync.tally import Skip
from sync_worker.sync.team import FixedDirectory
from sync_worker.sync.writers import CrmWriter
from tests.engine.conftest import World, register


def linked(world: World) -> tuple[str, str]:
    partner_id = register(world)
    world.tick()
    assert run_cycle(world.ctx).outcome == "ok"
    record = world.partner.get(partner_id)
    assert record is not None
    rep_id = record.get("rep_deal_id")
    assert rep_id is not None
    world.tick()
    return partner_id, rep_id


def processor(world: World) -> PageProcessor:
    writer = CrmWriter({Side.PARTNER: world.partner, Side.REP: world.rep})
    directory = Directory(frozenset({"ada@agency.example"}), frozenset({"rita@hubspot.example"}))
    return PageProcessor(world.ctx, FixedDirectory(directory), writer, "test-run")


def test_a_snapshot_older_than_our_own_write_never_pushes_its_old_value_back(world: World) -> None:
    partner_id, rep_id = linked(world)
    world.rep.edit(rep_id, {"amount": "5"})
    stale = world.rep.get(rep_id)  # the rep pull's snapshot, taken before the partner edit
    assert stale is not None
    world.tick()
    world.partner.edit(partner_id, {"amount": "7"})
    world.tick()
    # The partner's newer edit wins and is written to the rep deal...
    page = processor(world)
    partner_record = world.partner.get(partner_id)
    assert partner_record is not None
    page.process(Side.PARTNER, [partner_record], partner_record.modified_at)
    assert world.rep.get(rep_id).get("amount") == "7"  # type: ignore[union-attr]
    # ...then the rep page fetched earlier arrives holding the old "5".
    result = page.process(Side.REP, [stale], stale.modified_at)
    assert world.partner.get(partner_id).get("amount") == "7"  # type: ignore[union-attr]
    assert world.rep.get(rep_id).get("amount") == "7"  # type: ignore[union-attr]
    assert result.tally.skipped[Skip.STALE] == 1


def test_echoes_plan_nothing_and_cost_one_search_per_side(world: World) -> None:
    partner_id, _ = linked(world)
    world.partner.edit(partner_id, {"amount": "250", "closedate": "2027-01-01T00:00:00Z"})
    world.tick()
    report = run_cycle(world.ctx)
    assert report.counts["updated.rep"] == 1
    for _ in range(3):
        world.tick()
        idle = run_cycle(world.ctx)
        assert idle.counts.get("updated.partner", 0) == 0
        assert idle.counts.get("updated.rep", 0) == 0
        assert idle.api_calls == 2


def test_a_dead_letter_is_not_closed_by_an_echo_of_the_rest_of_its_record(world: World) -> None:
    partner_id, rep_id = linked(world)
    world.rep.reject_property("amount", "13", "amount 13 is unlucky on the rep side")
    world.partner.edit(partner_id, {"amount": "13", "dealname": "ignored rename"})
    world.tick()
    run_cycle(world.ctx)
    letters = [d for _, d in world.store.dead_letters("agency-001")]
    assert [(d.side, d.record_id) for d in letters] == [(Side.REP, rep_id)]
    assert "unlucky" in letters[0].reason
    echo: DealRecord | None = world.rep.get(rep_id)
    assert echo is not None
    processor(world).process(Side.REP, [echo], echo.modified_at)
    assert [d.record_id for _, d in world.store.dead_letters("agency-001")] == [rep_id]


def test_a_fixed_dead_letter_is_resolved_by_its_retry(world: World) -> None:
    partner_id, rep_id = linked(world)
    world.rep.reject_property("amount", "13", "amount 13 is unlucky on the rep side")
    world.partner.edit(partner_id, {"amount": "13"})
    world.tick()
    run_cycle(world.ctx)
    assert world.store.dead_letters("agency-001")
    world.partner.edit(partner_id, {"amount": "14"})
    world.tick(3600)  # past the retry backoff
    run_cycle(world.ctx)
    assert world.store.dead_letters("agency-001") == []
    assert world.rep.get(rep_id).get("amount") == "14"  # type: ignore[union-attr]


def test_a_snapshot_older_than_a_version_we_already_reconciled_is_stale(world: World) -> None:
    partner_id, rep_id = linked(world)
    world.rep.edit(rep_id, {"amount": "5"})
    stale = world.rep.get(rep_id)  # prefetched by the rep pull
    assert stale is not None
    world.tick()
    world.rep.edit(rep_id, {"amount": "6"})  # the rep corrects itself
    world.tick()
    world.partner.edit(partner_id, {"dealstage": "qualifiedtobuy"})  # never synced: no rep write
    world.tick()
    page = processor(world)
    partner_record = world.partner.get(partner_id)
    assert partner_record is not None
    page.process(Side.PARTNER, [partner_record], partner_record.modified_at)
    assert world.partner.get(partner_id).get("amount") == "6"  # type: ignore[union-attr]
    result = page.process(Side.REP, [stale], stale.modified_at)
    assert world.partner.get(partner_id).get("amount") == "6"  # type: ignore[union-attr]
    assert result.tally.skipped[Skip.STALE] == 1


def test_a_cycle_that_loses_its_lease_stops_after_the_page(world: World) -> None:
    for n in range(UNIT_RECORDS + 50):  # two units, so there is a renewal to lose
        register(world, dealname=f"deal {n}")
    world.tick()
    taken: list[bool] = []

    def steal(_side: Side, records: int, _total: int | None) -> None:
        if records and not taken:  # another process takes the pair once this lease expires
            world.store.release_lease("agency-001", PROCESS_OWNER)
            taken.append(world.store.try_lease("agency-001", "intruder", world.clock.now(), 600))

    report = run_cycle(world.ctx, CycleOptions(progress=steal))
    assert taken == [True]
    assert (report.outcome, report.error_kind) == ("stopped", "lease")
    # The first unit, committed; nothing after it.
    assert report.counts["pulled.partner"] == UNIT_RECORDS
    assert world.store.count_links("agency-001") == UNIT_RECORDS
