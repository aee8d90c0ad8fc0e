"""A field whose rule is ``manual``: a conflict is recorded for a person and nothing is pushed
until someone settles it (by taking a side, or by making the two sides agree)."""

from __future__ import annotations

from pathlib import Path

from structlog.testing import capture_logs

from sync_worker.mappings import builtin_mapping_path
from sync_worker.ops.resolution import Take, resolve_conflict
from sync_worker.rules.mapping import SyncMapping, load_mapping
from tests.integration.world import PAIR, World, tick, writes


def manual_amount_mapping(tmp_path: Path) -> SyncMapping:
    """The default mapping with ``amount`` settled by a person instead of the newest edit."""
    text = builtin_mapping_path("hubspot_shared_deals").read_text()
    head, amount = text.split("[fields.amount]")
    section, rest = amount.split("[fields.deal_team]")
    section = section.replace('rule = "newest_wins"', 'rule = "manual"')
    path = tmp_path / "manual_amount.toml"
    path.write_text(f"{head}[fields.amount]{section}[fields.deal_team]{rest}")
    return load_mapping(path, context={"partner_account": PAIR})


def conflicting_amounts(world: World, tmp_path: Path) -> tuple[str, str]:
    world.mapping = manual_amount_mapping(tmp_path)
    partner_id, rep_id = world.linked(amount="1000")
    world.settle(1)
    world.partner.edit_deal(partner_id, {"amount": "1200", "closedate": "2027-09-30T00:00:00Z"})
    tick()
    world.rep.edit_deal(rep_id, {"amount": "1300"})
    return partner_id, rep_id


def test_a_manual_conflict_is_recorded_and_nothing_is_pushed(world: World, tmp_path: Path) -> None:
    partner_id, rep_id = conflicting_amounts(world, tmp_path)

    with capture_logs() as logs:
        world.settle(3)

    assert world.partner_deal(partner_id)["amount"] == "1200"
    assert world.rep_deal(rep_id)["amount"] == "1300"
    # The other field of the same edit still syncs.
    assert world.rep_deal(rep_id)["closedate"] == "2027-09-30T00:00:00.000Z"
    [conflict] = world.store.open_conflicts(PAIR)
    assert (conflict.partner_id, conflict.rep_id, conflict.field) == (partner_id, rep_id, "amount")
    assert (conflict.partner_value, conflict.rep_value, conflict.base_value) == (
        "1200",
        "1300",
        "1000",
    )
    assert [e["field"] for e in logs if e["event"] == "conflict_recorded"] == ["amount"]


def test_taking_a_side_writes_it_once_and_closes_the_conflict(world: World, tmp_path: Path) -> None:
    partner_id, rep_id = conflicting_amounts(world, tmp_path)
    world.settle(2)
    [conflict] = world.store.open_conflicts(PAIR)
    assert conflict.id is not None

    resolution = resolve_conflict(world.ctx, conflict.id, Take.REP, run_id="by-hand")
    written = (writes(world.partner), writes(world.rep))
    reports = world.settle(3)

    assert resolution.value == "1300"
    assert world.partner_deal(partner_id)["amount"] == world.rep_deal(rep_id)["amount"] == "1300"
    assert world.store.open_conflicts(PAIR) == []
    assert (writes(world.partner), writes(world.rep)) == written
    assert all(r.counts.get("conflicts", 0) == 0 for r in reports)


def test_sides_that_agree_again_close_the_conflict(world: World, tmp_path: Path) -> None:
    partner_id, rep_id = conflicting_amounts(world, tmp_path)
    world.settle(2)
    assert len(world.store.open_conflicts(PAIR)) == 1

    world.partner.edit_deal(partner_id, {"amount": "1300"})
    world.settle(2)

    assert world.store.open_conflicts(PAIR) == []
    assert world.partner_deal(partner_id)["amount"] == world.rep_deal(rep_id)["amount"] == "1300"
    world.rep.edit_deal(rep_id, {"amount": "1400"})  # and a later one-sided edit syncs again
    world.settle(2)
    assert world.partner_deal(partner_id)["amount"] == "1400"
