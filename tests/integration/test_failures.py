"""Failures stop what they must and nothing more: a refused token stops its pair, a spent daily
budget stops the portal's work until the reset without a retry storm, a held lease skips."""

from __future__ import annotations

from datetime import UTC, datetime

from structlog.testing import capture_logs

from sync_worker.connectors.hubspot.ratelimit import LimiterRegistry
from sync_worker.kernel.clock import FakeClock
from tests.integration.conftest import MakeWorld, portal_specs
from tests.integration.world import PAIR, World, status_count, writes


def test_a_refused_token_fails_its_pair_and_another_pair_still_syncs(world: World) -> None:
    partner_id = world.register()
    broken = world.context(
        "agency-001-old-token", partner=world.connector("partner", token="revoked-token")
    )

    with capture_logs() as logs:
        failed = world.cycle(broken)
        synced = world.cycle()

    assert failed.outcome == "failed"
    assert failed.error_kind == "auth"
    assert "revoked-token" not in (failed.error or "")
    assert synced.outcome == "ok"
    assert len(world.rep_deals_for(partner_id)) == 1
    assert world.store.count_links("agency-001-old-token") == 0
    assert world.store.count_links(PAIR) == 1
    auth_events = [e for e in logs if e["event"] == "pair_auth_failed"]
    assert len(auth_events) == 1
    statuses = {s.pair: s for s in world.store.status(["agency-001-old-token", PAIR])}
    old_run = statuses["agency-001-old-token"].last_run
    assert old_run is not None
    assert old_run.outcome == "failed"
    assert statuses[PAIR].consecutive_failures == 0


def test_a_spent_daily_budget_stops_the_pair_until_the_reset_without_a_retry_storm(
    make_world: MakeWorld,
) -> None:
    specs = portal_specs(rep={"tier": "enterprise", "daily_limit": 2})
    world = make_world(specs, registry=LimiterRegistry())
    partner_ids = [world.register(dealname=f"Deal {n}") for n in range(3)]
    ctx = world.context(
        partner=world.connector("partner", tier="enterprise"),
        rep=world.connector("rep", tier="enterprise"),
    )
    started = world.ctx.clock.now()

    with capture_logs() as logs:
        reports = [world.cycle(ctx) for _ in range(4)]

    for report in reports:
        assert report.outcome == "failed"
        assert report.error_kind == "daily_limit"
        assert report.resume_at is not None
        assert report.resume_at > started
    assert status_count(world.rep, 429) == 1  # the one refusal; later cycles send nothing
    assert world.rep.total_requests == 3  # owners, search, then the refused create
    assert len([e for e in logs if e["event"] == "daily_limit_reached"]) == 4
    assert world.rep.deals() == []
    assert writes(world.partner) == 0
    for partner_id in partner_ids:
        assert world.partner_deal(partner_id).get("rep_deal_id") is None


def test_a_pair_leased_by_another_process_is_skipped(world: World) -> None:
    partner_id = world.register()
    assert world.store.try_lease(PAIR, "another-process", world.ctx.clock.now(), 600)

    report = world.cycle()

    assert report.outcome == "skipped"
    assert report.api_calls == 0
    assert world.partner.total_requests == world.rep.total_requests == 0
    assert world.rep.deals() == []
    assert world.partner_deal(partner_id).get("rep_deal_id") is None
    assert world.store.count_links(PAIR) == 0
    assert world.store.status([PAIR])[0].last_run is None
    # The other process still holds it.
    assert not world.store.try_lease(PAIR, "a-third-process", world.ctx.clock.now(), 600)


def test_the_lease_is_released_after_a_cycle(world: World) -> None:
    world.register()
    world.ok_cycle()
    assert world.store.try_lease(PAIR, "next-process", world.ctx.clock.now(), 600)


def test_a_pair_stopped_by_the_daily_limit_resumes_after_the_reset(make_world: MakeWorld) -> None:
    # The rep portal (and the connector pacing it) live on a clock a minute before midnight UTC.
    rep_clock = FakeClock(datetime(2026, 11, 26, 23, 59, tzinfo=UTC))
    # An idle cycle costs the rep portal two calls; a creation three: search, owners, create.
    specs = portal_specs(rep={"tier": "enterprise", "daily_limit": 3, "clock": rep_clock})
    world = make_world(specs, registry=LimiterRegistry())
    ctx = world.context(rep=world.connector("rep", tier="enterprise"))
    assert world.cycle(ctx).outcome == "ok"  # an idle cycle spends two of today's three
    partner_id = world.register()

    with capture_logs():
        stopped = [world.cycle(ctx) for _ in range(2)]
    assert [r.error_kind for r in stopped] == ["daily_limit", "daily_limit"]
    assert stopped[0].resume_at == datetime(2026, 11, 27, tzinfo=UTC)
    assert world.store.status([PAIR])[0].consecutive_failures == 2

    rep_clock.advance(61)  # past midnight: a new day's budget
    resumed = world.cycle(ctx)

    assert resumed.outcome == "ok"
    assert len(world.rep_deals_for(partner_id)) == 1
    assert world.store.status([PAIR])[0].consecutive_failures == 0


def test_the_daily_limit_says_when_it_resets_in_the_accounts_time_zone(
    make_world: MakeWorld,
) -> None:
    """HubSpot resets the daily count at midnight in the account's time zone: the sandbox's
    Berlin portal does, and the worker's report names that moment in Berlin time."""
    rep_clock = FakeClock(datetime(2026, 11, 26, 22, 59, tzinfo=UTC))  # 23:59 in Berlin
    rep = {"tier": "enterprise", "daily_limit": 4, "clock": rep_clock, "timezone": "Europe/Berlin"}
    world = make_world(portal_specs(rep=rep), registry=LimiterRegistry())
    connector = world.connector("rep", tier="enterprise", account_timezone="Europe/Berlin")
    ctx = world.context(rep=connector)
    assert world.cycle(ctx).outcome == "ok"
    world.register()

    with capture_logs():
        stopped = world.cycle(ctx)

    assert stopped.error_kind == "daily_limit"
    assert stopped.resume_at == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    assert "endpoint 'rep'" in (stopped.error or "")
    assert "until 2026-11-27 00:00 CET (23:00 UTC)" in (stopped.error or "")
    rep_clock.advance(61)  # past midnight in Berlin, 23:00 UTC: a new day's budget
    assert world.cycle(ctx).outcome == "ok"
