"""The default mapping's calculated partner scope over the in-memory connector: the partner
counterpart of a rep referral is never registered, yet the pair syncs both ways; deals found
only by their link property never originate anything, nor are dead-lettered for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.model import Side
from sync_worker.mappings import builtin_mapping_path
from sync_worker.rules.mapping import load_mapping
from sync_worker.state import open_store
from sync_worker.sync.context import PairContext
from sync_worker.sync.engine import run_cycle
from tests.doubles.memory import InMemoryConnector
from tests.engine.conftest import PARTNER_USERS, REP_USERS, World

PAIR = "agency-001"
REGISTRATIONS = "hs_num_associated_active_deal_registrations"


def make_world(tmp_path: Path, mapping_text: str | None = None) -> World:
    path = builtin_mapping_path("hubspot_shared_deals")
    if mapping_text is not None:
        path = tmp_path / "mapping.toml"
        path.write_text(mapping_text, encoding="utf-8")
    mapping = load_mapping(path, context={"partner_account": PAIR})
    clock = FakeClock()
    partner = InMemoryConnector(clock, name="partner", users=PARTNER_USERS, first_id=1001)
    rep = InMemoryConnector(clock, name="rep", users=REP_USERS, first_id=5001)
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    ctx = PairContext(PAIR, mapping, partner, rep, store, clock, interval_seconds=60)
    return World(clock, partner, rep, store, ctx)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = make_world(tmp_path)
    yield built
    built.store.close()


def test_a_rep_referral_syncs_both_ways_though_its_partner_deal_is_never_registered(
    world: World,
) -> None:
    rep_id = world.rep.put({"dealname": "Referral", "amount": "5", "shared_partner_account": PAIR})
    world.tick()
    assert run_cycle(world.ctx).counts["created.partner"] == 1
    [partner] = world.partner.all()
    assert partner.get(REGISTRATIONS) in (None, "0")
    link = world.store.find_link(PAIR, rep_id)
    assert link is not None
    assert link.origin is Side.REP

    world.tick()
    world.partner.edit(partner.id, {"amount": "6"})
    world.tick()
    run_cycle(world.ctx)
    assert world.rep.get(rep_id).get("amount") == "6"  # type: ignore[union-attr]

    world.tick()
    world.rep.edit(rep_id, {"amount": "7"})
    world.tick()
    report = run_cycle(world.ctx)
    assert world.partner.get(partner.id).get("amount") == "7"  # type: ignore[union-attr]
    assert report.counts.get("skipped.out_of_scope", 0) == 0


def test_a_deal_found_only_by_a_link_that_is_not_this_pairs_is_skipped_visibly(
    tmp_path: Path,
) -> None:
    text = builtin_mapping_path("hubspot_shared_deals").read_text(encoding="utf-8")
    text = text.replace('partner_value = "{id}"', 'partner_value = "rep:{id}"')
    world = make_world(tmp_path, text)
    try:
        unregistered = world.partner.put({"dealname": "Own", "rep_deal_id": "legacy-crm-77"})
        registered = world.partner.put(
            {"dealname": "Shared", "rep_deal_id": "legacy-crm-78", REGISTRATIONS: "1"}
        )
        world.tick()

        with capture_logs() as logs:
            report = run_cycle(world.ctx)

        assert report.counts["skipped.not_in_scope"] == 1
        skipped = [e for e in logs if e["event"] == "deal_not_in_scope"]
        assert [e["deal_id"] for e in skipped] == [unregistered]
        letters = [d.record_id for _, d in world.store.dead_letters(PAIR)]
        assert letters == [registered]  # a registered deal's bad link is this pair's problem
        assert world.rep.all() == ()
    finally:
        world.store.close()
