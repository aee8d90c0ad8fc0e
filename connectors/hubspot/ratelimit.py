"""Client-side pacing per HubSpot credential, so the worker never causes a rate-limit storm.

HubSpot counts requests per app per account in a rolling 10-second window (the tier's limit),
separately at 5 requests/second for CRM search (exempt from the 10-second limit and without
rate headers), and per account per day. Many pairs share the rep CRM's credential, so the limiter
is shared by every connector using the same base URL and token: :class:`LimiterRegistry` hands
out one :class:`CredentialLimiter` per credential. It is thread-safe.

Pacing is a sliding window of actual grant times (not a token bucket), so no 10-second window
ever holds more than ``limit - margin`` grants and no search window more than ``search_per_s``.
Response headers tighten it: ``X-HubSpot-RateLimit-Max`` lowers the limit, and
``X-HubSpot-RateLimit-Remaining`` at zero blocks the credential for the interval. After a
``DAILY`` 429 the limiter refuses further requests (no HTTP call) until the reset time.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import structlog
from pydantic import SecretStr

from sync_worker.connectors.hubspot.status import local_time
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.errors import ConfigError, DailyLimitReached

__all__ = [
    "TIER_LIMITS",
    "UNLIMITED",
    "CredentialLimiter",
    "LimiterRegistry",
    "RequestKind",
    "SlidingWindow",
    "credential_label",
    "token_fingerprint",
]

RequestKind = Literal["general", "search"]

TIER_LIMITS: Mapping[str, int] = {
    "free": 100,
    "starter": 100,
    "professional": 190,
    "enterprise": 190,
    "api_limit_increase": 250,
    "oauth": 110,
}
"""Requests per 10 seconds per app, from HubSpot's usage guidelines."""

UNLIMITED = "unlimited"
"""The tier of a local sandbox without rate limits: the connector paces nothing."""

TEN_SECONDS = 10.0
SEARCH_PER_SECOND = 5
# HubSpot measures windows on its side; a little slack absorbs network jitter.
WINDOW_PAD_S = 0.1
SEARCH_PAD_S = 0.02
"""Search slots are counted from each answer (see :meth:`CredentialLimiter.answered`), so
network delays need no margin; this one only covers clock resolution."""

_log = structlog.get_logger(__name__)


def token_fingerprint(token: SecretStr) -> str:
    """A short, non-reversible name for a token (safe for logs and keys)."""
    return hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:12]


def credential_label(base_url: str, token: SecretStr) -> str:
    """How metrics and the console name a credential: ``base_url#token-fingerprint``."""
    return f"{base_url.rstrip('/')}#{token_fingerprint(token)}"


class SlidingWindow:
    """At most ``limit`` grants in any ``window_s`` seconds. Not locked: the owner locks."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._grants: list[float] = []  # sorted

    def try_grant(self, now: float) -> float:
        """Record a grant at ``now`` and return 0, or return how long to wait first."""
        expired = bisect.bisect_right(self._grants, now - self.window_s)
        del self._grants[:expired]
        if len(self._grants) < self.limit:
            bisect.insort(self._grants, now)
            return 0.0
        return self._grants[-self.limit] + self.window_s - now

    def answered(self, granted: float, now: float) -> None:
        """Count the grant made at ``granted`` from ``now``, when its request was answered:
        the server counts a request when it arrives, which may be later than we sent it, so a
        window that restarts from the answer can never let the server see one too many."""
        index = bisect.bisect_left(self._grants, granted)
        if index < len(self._grants) and self._grants[index] == granted:
            del self._grants[index]
            bisect.insort(self._grants, max(granted, now))


class CredentialLimiter:
    """Paces one credential's requests; see the module docstring."""

    def __init__(
        self,
        *,
        per_10s: int,
        clock: Clock,
        label: str,
        margin: int = 5,
        search_per_s: int = SEARCH_PER_SECOND,
    ) -> None:
        self._clock = clock
        self._margin = margin
        self._tier_limit = per_10s
        self.label = label
        self._general = SlidingWindow(max(1, per_10s - margin), TEN_SECONDS + WINDOW_PAD_S)
        self._search = SlidingWindow(search_per_s, 1.0 + SEARCH_PAD_S)
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        self._daily_resets_at: datetime | None = None
        self.daily_remaining: int | None = None
        self.waited_seconds = 0.0
        """Time spent waiting for a grant, in total (a metric)."""
        self.refusals: dict[str, int] = {"429": 0, "5xx": 0}
        """Responses the portal refused (rate limited) or failed (5xx), in total (a metric)."""

    def acquire(self, kind: RequestKind = "general") -> float:
        """Block (via the clock's sleep) until a request of ``kind`` may be sent; return the
        monotonic time of the grant. Raises :class:`DailyLimitReached` while the daily budget
        is known to be spent."""
        while True:
            with self._lock:
                self._refuse_if_daily_spent()
                now = self._clock.monotonic()
                wait = self._blocked_until - now
                if wait <= 0:
                    window = self._search if kind == "search" else self._general
                    wait = window.try_grant(now)
                    if wait <= 0:
                        return now
                self.waited_seconds += wait
            self._clock.sleep(wait)

    def answered(self, kind: RequestKind, granted: float) -> None:
        """A search granted at ``granted`` was answered: its slot in the per-second window runs
        from now (HubSpot counts it on arrival; network delays must not bunch arrivals up)."""
        if kind != "search":
            return  # a 10-second window's own padding covers any delay
        with self._lock:
            self._search.answered(granted, self._clock.monotonic())

    def count_status(self, status: int) -> None:
        """Tally a 429 or 5xx answer for the credential's metrics."""
        kind = "429" if status == 429 else "5xx" if status >= 500 else None
        if kind is not None:
            with self._lock:
                self.refusals[kind] += 1

    def observe(self, headers: Mapping[str, str]) -> None:
        """Tighten pacing from a response's ``X-HubSpot-RateLimit-*`` headers (if any)."""
        daily = _int_header(headers, "x-hubspot-ratelimit-daily-remaining")
        maximum = _int_header(headers, "x-hubspot-ratelimit-max")
        remaining = _int_header(headers, "x-hubspot-ratelimit-remaining")
        interval_ms = _int_header(headers, "x-hubspot-ratelimit-interval-milliseconds")
        with self._lock:
            if daily is not None:
                self.daily_remaining = daily
            if maximum is not None and maximum > 0:
                self._general.limit = max(1, min(self._tier_limit, maximum) - self._margin)
            if remaining is not None and remaining <= 0:
                interval = (interval_ms or TEN_SECONDS * 1000) / 1000
                self._blocked_until = max(self._blocked_until, self._clock.monotonic() + interval)

    def trip_daily(self, error: DailyLimitReached) -> None:
        """Remember that the daily budget is spent, until ``error.resets_at``."""
        with self._lock:
            self._daily_resets_at = error.resets_at
            self.daily_remaining = 0
        _log.error(
            "hubspot.daily_limit_reached",
            credential=self.label,
            resets_at=error.resets_at.isoformat() if error.resets_at else None,
        )

    def _refuse_if_daily_spent(self) -> None:
        resets_at = self._daily_resets_at
        if resets_at is None:
            return
        if self._clock.now() >= resets_at:
            self._daily_resets_at = None
            return
        raise DailyLimitReached(
            f"HubSpot daily API limit reached for {self.label}; no requests are sent until "
            f"{local_time(resets_at)} (HubSpot's Retry-After, else the next midnight in the "
            "endpoint's account_timezone)",
            resets_at=resets_at,
        )


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


class LimiterRegistry:
    """One :class:`CredentialLimiter` per (base URL, token). Create one per process and hand it
    to every connector so that pairs sharing a credential share its budget."""

    def __init__(self, *, margin: int = 5, search_per_s: int = SEARCH_PER_SECOND) -> None:
        self._margin = margin
        self._search_per_s = search_per_s
        self._limiters: dict[str, CredentialLimiter] = {}
        self._lock = threading.Lock()

    def get(self, *, base_url: str, token: SecretStr, tier: str, clock: Clock) -> CredentialLimiter:
        """The limiter for this credential; created (with ``clock``) on first use."""
        if tier not in TIER_LIMITS:
            raise ConfigError(
                f"unknown HubSpot tier {tier!r}; valid: {', '.join(sorted(TIER_LIMITS))}"
            )
        label = credential_label(base_url, token)
        with self._lock:
            limiter = self._limiters.get(label)
            if limiter is None:
                limiter = CredentialLimiter(
                    per_10s=TIER_LIMITS[tier],
                    clock=clock,
                    label=label,
                    margin=self._margin,
                    search_per_s=self._search_per_s,
                )
                self._limiters[label] = limiter
            return limiter

    def limiters(self) -> list[CredentialLimiter]:
        """Every credential's limiter so far (for metrics)."""
        with self._lock:
            return list(self._limiters.values())
