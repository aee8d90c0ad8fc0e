"""Pacing proofs: with a FakeClock, no request is ever granted faster than the limits allow."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from sync_worker.connectors.hubspot import make_hubspot_connector
from sync_worker.connectors.hubspot.ratelimit import TIER_LIMITS, CredentialLimiter, LimiterRegistry
from sync_worker.kernel.clock import FakeClock
from sync_worker.kernel.errors import ConfigError, DailyLimitReached
from sync_worker.kernel.filters import Scope
from tests.connectors.fake_hubspot import TOKEN, FakeHubSpot

START = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)


def busiest_window(times: Sequence[float], width: float) -> int:
    """The most grants found in any half-open window ``[t, t + width)``."""
    ordered = sorted(times)
    best, low = 0, 0
    for high, moment in enumerate(ordered):
        while ordered[low] <= moment - width:
            low += 1
        best = max(best, high - low + 1)
    return best


def limiter(clock: FakeClock, tier: str = "professional") -> CredentialLimiter:
    return LimiterRegistry().get(
        base_url="https://api.hubapi.test", token=SecretStr("t"), tier=tier, clock=clock
    )


@pytest.mark.parametrize("tier", sorted(TIER_LIMITS))
def test_ten_second_windows_never_exceed_the_tier(tier: str) -> None:
    clock = FakeClock()
    paced = limiter(clock, tier)

    grants = [paced.acquire("general").at for _ in range(3 * TIER_LIMITS[tier] + 7)]

    assert busiest_window(grants, 10.0) <= TIER_LIMITS[tier] - 5
    assert clock.sleeps  # it had to wait
    assert grants[-1] - grants[0] < 40  # and did not wait far longer than needed


def test_search_never_exceeds_five_per_second_and_skips_the_ten_second_budget() -> None:
    clock = FakeClock()
    paced = limiter(clock, "starter")

    searches = [paced.acquire("search").at for _ in range(60)]
    general = [paced.acquire("general").at for _ in range(95)]

    assert busiest_window(searches, 1.0) <= 5
    assert busiest_window(general, 10.0) <= 95
    assert general[-1] - general[0] < 1.0  # searches did not use the 10-second budget


def test_a_slow_search_answer_holds_its_slot_until_it_came() -> None:
    """HubSpot counts a search when it arrives. Five searches go out at once (other threads);
    one is held up on the way and arrives 0.9 s later, the others at once. Counting each slot
    from its answer keeps the next five from arriving in the same rolling second as it."""
    clock = FakeClock()
    paced = limiter(clock, "starter")
    first = [paced.acquire("search") for _ in range(5)]
    arrivals = []
    clock.advance(0.01)
    for ticket in first[1:]:
        arrivals.append(clock.monotonic())
        paced.answered(ticket)
    clock.advance(0.89)
    arrivals.append(clock.monotonic())  # the slow one
    paced.answered(first[0])
    for _ in range(5):  # answered as soon as sent
        paced.answered(ticket := paced.acquire("search"))
        arrivals.append(ticket.at)

    assert busiest_window(arrivals, 1.0) <= 5


def test_many_threads_sharing_a_credential_stay_within_limits() -> None:
    clock = FakeClock()
    registry = LimiterRegistry()
    grants: dict[str, list[float]] = {"general": [], "search": []}
    lock = threading.Lock()

    def worker(kind: str) -> None:
        paced = registry.get(
            base_url="https://api.hubapi.test", token=SecretStr("shared"), tier="free", clock=clock
        )
        for _ in range(40):
            ticket = paced.acquire("search" if kind == "search" else "general")
            with lock:
                grants[kind].append(ticket.at)

    threads = [threading.Thread(target=worker, args=(k,)) for k in ["general"] * 6 + ["search"] * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(grants["general"]) == 240
    assert len(grants["search"]) == 120
    assert busiest_window(grants["general"], 10.0) <= 95
    assert busiest_window(grants["search"], 1.0) <= 5


def test_requests_sent_through_connectors_sharing_a_credential_are_paced() -> None:
    clock = FakeClock(START)
    fake = FakeHubSpot(clock)
    sent: dict[str, list[float]] = {"general": [], "search": []}

    def handler(request: httpx.Request) -> httpx.Response:
        kind = "search" if request.url.path.endswith("/search") else "general"
        sent[kind].append(clock.monotonic())
        return fake.handle(request)

    registry = LimiterRegistry()
    connectors = [
        make_hubspot_connector(
            name=f"pair-{n}",
            base_url="https://api.hubapi.test",
            token=SecretStr(TOKEN),
            tier="starter",
            clock=clock,
            transport=httpx.MockTransport(handler),
            limiter_registry=registry,
        )
        for n in range(3)
    ]
    ids = [fake.store.put({"dealname": f"d{n}"}) for n in range(5)]
    for _ in range(60):
        for connector in connectors:
            connector.read(ids, ["dealname"])
            list(connector.changes(None, Scope(), ["dealname"]))

    assert len(sent["general"]) == 180
    assert busiest_window(sent["general"], 10.0) <= 100
    assert busiest_window(sent["search"], 1.0) <= 5


def test_remaining_zero_blocks_for_the_interval() -> None:
    clock = FakeClock()
    paced = limiter(clock)
    first = paced.acquire().at

    paced.observe(
        httpx.Headers(
            {
                "X-HubSpot-RateLimit-Remaining": "0",
                "X-HubSpot-RateLimit-Max": "190",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            }
        )
    )
    second = paced.acquire().at

    assert second - first >= 10.0


def test_a_lower_max_header_tightens_the_window() -> None:
    clock = FakeClock()
    paced = limiter(clock, "enterprise")
    paced.observe(httpx.Headers({"X-HubSpot-RateLimit-Max": "50"}))

    grants = [paced.acquire().at for _ in range(120)]

    assert busiest_window(grants, 10.0) <= 45


def test_daily_limit_refuses_without_sending_until_reset() -> None:
    clock = FakeClock(START)
    fake = FakeHubSpot(clock)
    connector = make_hubspot_connector(
        name="p",
        base_url="https://api.hubapi.test",
        token=SecretStr(TOKEN),
        tier="starter",
        clock=clock,
        transport=httpx.MockTransport(fake.handle),
    )
    fake.inject(
        httpx.Response(
            429,
            json={"message": "You have reached your daily limit.", "policyName": "DAILY"},
            headers={"X-HubSpot-RateLimit-Daily-Remaining": "0"},
        )
    )

    with pytest.raises(DailyLimitReached):
        connector.read(["1"], ["dealname"])
    with pytest.raises(DailyLimitReached, match="no requests are sent until 2026-03-02 00:00 UTC"):
        connector.read(["1"], ["dealname"])
    assert len(fake.requests) == 1

    clock.advance(3601)
    assert connector.read(["1"], ["dealname"]).missing == ("1",)
    assert len(fake.requests) == 2


def test_the_daily_reset_follows_the_account_time_zone() -> None:
    clock = FakeClock(START)  # 23:00 UTC = 18:00 in New York
    fake = FakeHubSpot(clock)
    connector = make_hubspot_connector(
        name="p",
        base_url="https://api.hubapi.test",
        token=SecretStr(TOKEN),
        tier="starter",
        clock=clock,
        transport=httpx.MockTransport(fake.handle),
        account_timezone="America/New_York",
    )
    fake.inject(httpx.Response(429, json={"message": "daily", "policyName": "DAILY"}))

    with pytest.raises(DailyLimitReached) as caught:
        connector.read(["1"], ["dealname"])

    assert caught.value.resets_at == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)


def test_an_unknown_account_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        make_hubspot_connector(
            name="p",
            base_url="https://api.hubapi.test",
            token=SecretStr(TOKEN),
            tier="starter",
            clock=FakeClock(),
            account_timezone="Mars/Olympus",
        )


def test_daily_remaining_is_tracked() -> None:
    paced = limiter(FakeClock())

    paced.observe(httpx.Headers({"X-HubSpot-RateLimit-Daily-Remaining": "1234"}))

    assert paced.daily_remaining == 1234


def test_registry_shares_one_limiter_per_credential() -> None:
    clock = FakeClock()
    registry = LimiterRegistry()

    def get(base: str, token: str) -> CredentialLimiter:
        return registry.get(base_url=base, token=SecretStr(token), tier="free", clock=clock)

    assert get("https://a", "t1") is get("https://a/", "t1")
    assert get("https://a", "t1") is not get("https://a", "t2")
    assert get("https://a", "t1") is not get("https://b", "t1")
    assert "t1" not in get("https://a", "t1").label


def test_unknown_tier_is_a_config_error_listing_the_choices() -> None:
    with pytest.raises(ConfigError, match="professional"):
        limiter(FakeClock(), "platinum")
