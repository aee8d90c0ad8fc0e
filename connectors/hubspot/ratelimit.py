"""Client-side pacing per HubSpot credential, so the worker never causes a rate-limit storm.

HubSpot counts requests per app per account in a rolling 10-second window (the tier's limit),
separately at 5 requests/second for CRM search (exempt from the 10-second limit and without
rate headers), and per account per day. Many pairs share the rep CRM's credential, so the limiter
is shared by every connector using the same base URL and token: :class:`LimiterRegistry` hands
out one :class:`CredentialLimiter` per credential. It is thread-safe.

The budget itself is a :class:`~sync_worker.connectors.budget.RateBudget`: the process's own
(:class:`~sync_worker.connectors.budget.MemoryBudget`), or, given a
:class:`~sync_worker.connectors.budget.BudgetStore`, one kept in the state store that every
process using the credential shares (a daemon, a ``backfill`` next to it, replicas). Either
way pacing is a sliding window of actual grant times (not a token bucket), so no 10-second
window ever holds more than ``limit - margin`` grants and no search window more than
``search_per_s``. Response headers correct it for every user of the budget:
``X-HubSpot-RateLimit-Max`` lowers the limit, and ``X-HubSpot-RateLimit-Remaining`` at zero
blocks the credential for the interval. After a ``DAILY`` 429 the budget refuses further
requests (no HTTP call) until the reset time.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from datetime import datetime

import structlog
from pydantic import SecretStr

from sync_worker.connectors.budget import (
    BudgetRules,
    BudgetSnapshot,
    BudgetStore,
    Correction,
    MemoryBudget,
    RateBudget,
    RequestKind,
    Ticket,
    Window,
)
from sync_worker.connectors.hubspot.status import local_time
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.errors import ConfigError, DailyLimitReached

__all__ = [
    "TIER_LIMITS",
    "UNLIMITED",
    "CredentialLimiter",
    "LimiterRegistry",
    "RequestKind",
    "Ticket",
    "credential_label",
    "pacing_rules",
    "token_fingerprint",
]

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


def pacing_rules(per_10s: int, *, margin: int, search_per_s: int) -> BudgetRules:
    """The windows a credential is paced to: ``per_10s - margin`` requests per 10 s and
    ``search_per_s`` searches per second, each with its pad."""
    return BudgetRules(
        general=Window(max(1, per_10s - margin), TEN_SECONDS, WINDOW_PAD_S),
        search=Window(search_per_s, 1.0, SEARCH_PAD_S),
    )


class CredentialLimiter:
    """Paces one credential's requests through its budget; see the module docstring.

    Its own counters (``waited_seconds``, ``refusals``) are this process's; the budget's
    figures (:meth:`snapshot`) are everyone's when the budget is shared.
    """

    def __init__(
        self,
        *,
        per_10s: int,
        clock: Clock,
        label: str,
        margin: int = 5,
        search_per_s: int = SEARCH_PER_SECOND,
        budgets: BudgetStore | None = None,
    ) -> None:
        self._clock = clock
        self._margin = margin
        self._tier_limit = per_10s
        self.label = label
        rules = pacing_rules(per_10s, margin=margin, search_per_s=search_per_s)
        self._budget: RateBudget = (
            budgets.budget(label, rules, clock) if budgets else MemoryBudget(label, rules, clock)
        )
        self._lock = threading.Lock()
        self._daily_resets_at: datetime | None = None
        self.waited_seconds = 0.0
        """Time spent waiting for a grant, in total (a metric)."""
        self.refusals: dict[str, int] = {"429": 0, "5xx": 0}
        """Responses the portal refused (rate limited) or failed (5xx), in total (a metric)."""

    def acquire(self, kind: RequestKind = "general") -> Ticket:
        """Block (via the clock's sleep) until a request of ``kind`` may be sent; return its
        ticket (hand it to :meth:`answered`). Raises :class:`DailyLimitReached` while the
        daily budget is known to be spent: known here, it costs not even a budget lookup."""
        while True:
            self._refuse_if_daily_spent()
            decision = self._budget.try_grant(kind)
            if decision.ticket is not None:
                return decision.ticket
            if decision.daily_resets_at is not None:  # another user of the budget tripped it
                with self._lock:
                    self._daily_resets_at = decision.daily_resets_at
                raise self._daily_error(decision.daily_resets_at)
            with self._lock:
                self.waited_seconds += decision.wait
            self._clock.sleep(decision.wait)

    def answered(self, ticket: Ticket) -> None:
        """A search was answered: its slot in the per-second window runs from now (HubSpot
        counts it on arrival; network delays must not bunch arrivals up)."""
        if ticket.kind == "search":  # a 10-second window's own padding covers any delay
            self._budget.answered(ticket)

    def count_status(self, status: int) -> None:
        """Tally a 429 or 5xx answer for the credential's metrics."""
        kind = "429" if status == 429 else "5xx" if status >= 500 else None
        if kind is not None:
            with self._lock:
                self.refusals[kind] += 1

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the budget from a response's ``X-HubSpot-RateLimit-*`` headers (if any)."""
        maximum = _int_header(headers, "x-hubspot-ratelimit-max")
        remaining = _int_header(headers, "x-hubspot-ratelimit-remaining")
        interval_ms = _int_header(headers, "x-hubspot-ratelimit-interval-milliseconds")
        correction = Correction(
            general_limit=(
                max(1, min(self._tier_limit, maximum) - self._margin)
                if maximum is not None and maximum > 0
                else None
            ),
            blocked_for=(
                (interval_ms or TEN_SECONDS * 1000) / 1000
                if remaining is not None and remaining <= 0
                else None
            ),
            daily_remaining=_int_header(headers, "x-hubspot-ratelimit-daily-remaining"),
        )
        if not correction.says_nothing():
            self._budget.correct(correction)

    def trip_daily(self, error: DailyLimitReached) -> None:
        """Remember that the daily budget is spent, until ``error.resets_at``, for every user
        of the budget."""
        if error.resets_at is not None:
            with self._lock:
                self._daily_resets_at = error.resets_at
            self._budget.trip_daily(error.resets_at)
        _log.error(
            "hubspot.daily_limit_reached",
            credential=self.label,
            resets_at=error.resets_at.isoformat() if error.resets_at else None,
        )

    def snapshot(self) -> BudgetSnapshot:
        """The budget's figures now (shared ones as every process sees them)."""
        return self._budget.snapshot()

    @property
    def daily_remaining(self) -> int | None:
        """Requests left today, as HubSpot last reported them to any user of the budget."""
        return self._budget.snapshot().daily_remaining

    def _refuse_if_daily_spent(self) -> None:
        with self._lock:
            resets_at = self._daily_resets_at
            if resets_at is not None and self._clock.now() >= resets_at:
                self._daily_resets_at = resets_at = None
        if resets_at is not None:
            raise self._daily_error(resets_at)

    def _daily_error(self, resets_at: datetime) -> DailyLimitReached:
        return DailyLimitReached(
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
    to every connector so that pairs sharing a credential share its budget; with ``budgets``
    (the state store's), processes sharing a credential share it too."""

    def __init__(
        self,
        *,
        margin: int = 5,
        search_per_s: int = SEARCH_PER_SECOND,
        budgets: BudgetStore | None = None,
    ) -> None:
        self._margin = margin
        self._search_per_s = search_per_s
        self._budgets = budgets
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
                    budgets=self._budgets,
                )
                self._limiters[label] = limiter
            return limiter

    def limiters(self) -> list[CredentialLimiter]:
        """Every credential's limiter so far (for metrics)."""
        with self._lock:
            return list(self._limiters.values())
