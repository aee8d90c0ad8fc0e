"""Metrics read when Prometheus scrapes: each credential's rate-limit state, and each pair's
open conflicts and dead-letter backlog (set after every cycle from the state store)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sync_worker.connectors.budget import BudgetSnapshot


class CredentialStats(Protocol):
    """What a connector's per-credential limiter tells (the HubSpot limiter has these)."""

    @property
    def label(self) -> str: ...
    @property
    def waited_seconds(self) -> float: ...
    @property
    def refusals(self) -> Mapping[str, int]: ...
    def snapshot(self) -> BudgetSnapshot:
        """The credential's budget now: shared by every process using it, when it is."""
        ...


class CredentialSource(Protocol):
    """The process's limiters, one per credential (only runtime names the concrete one)."""

    def limiters(self) -> Sequence[CredentialStats]: ...


class CredentialCollector(Collector):
    """Per credential (``base_url#token-fingerprint``, never the token): the daily budget
    HubSpot last reported as remaining and the requests left in the current windows (both from
    the budget every process using the credential shares), this process's seconds spent
    waiting on the client-side limiter, and the 429 and 5xx answers it received."""

    def __init__(self, limiters: CredentialSource) -> None:
        self._limiters = limiters

    def collect(self) -> Iterator[Metric]:
        remaining = GaugeMetricFamily(
            "sync_credential_daily_remaining",
            "Requests left in the credential's daily budget, as HubSpot last reported it.",
            labels=["credential"],
        )
        waited = CounterMetricFamily(
            "sync_credential_limiter_wait_seconds",
            "Seconds requests waited on the client-side rate limiter.",
            labels=["credential"],
        )
        window = GaugeMetricFamily(
            "sync_credential_window_remaining",
            "Requests the client-side limiter may still grant in the current window (general: "
            "10 s, search: 1 s), for every process sharing the credential's budget.",
            labels=["credential", "kind"],
        )
        refused = CounterMetricFamily(
            "sync_credential_responses",
            "Rate-limited (429) and server-error (5xx) answers.",
            labels=["credential", "status"],
        )
        for limiter in self._limiters.limiters():
            budget = limiter.snapshot()
            if budget.daily_remaining is not None:
                remaining.add_metric([limiter.label], budget.daily_remaining)
            window.add_metric([limiter.label, "general"], budget.general_remaining)
            window.add_metric([limiter.label, "search"], budget.search_remaining)
            waited.add_metric([limiter.label], limiter.waited_seconds)
            for status, count in sorted(limiter.refusals.items()):
                refused.add_metric([limiter.label, status], count)
        yield from (remaining, window, waited, refused)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected only when scraped: registering must not read the limiters
