"""HubSpot-style rate limits of one portal (reference §4).

- a rolling 10-second window per tier (search is exempt from it);
- a daily count that search also uses, reset at midnight in the account's time zone
  (``PortalSpec.timezone``, UTC unless set), as HubSpot documents;
- search: 5 requests per rolling second.

A request refused with 429 uses up nothing (assumption: HubSpot does not say whether refused
calls count). The window uses the portal clock's monotonic reading, the day its wall time, so a
``FakeClock`` drives both in tests.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, tzinfo

from hubspot_sandbox.clock import Clock
from hubspot_sandbox.errors import correlation_id

TEN_SECONDS = 10.0
ONE_SECOND = 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of :meth:`RateLimiter.admit`: headers to send, and the 429 body when refused."""

    headers: dict[str, str]
    refusal: dict[str, str] | None = None


def rate_limit_body(policy: str) -> dict[str, str]:
    """The 429 body; ``policy`` is TEN_SECONDLY_ROLLING, SECONDLY or DAILY."""
    names = {
        "TEN_SECONDLY_ROLLING": "ten_secondly_rolling",
        "SECONDLY": "secondly",
        "DAILY": "daily",
    }
    return {
        "status": "error",
        "message": f"You have reached your {names[policy]} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": correlation_id(),
    }


class RateLimiter:
    """Counts requests of one portal; ``limits`` None switches limiting and headers off."""

    def __init__(
        self,
        limits: tuple[int, int | None] | None,
        search_per_second: int,
        clock: Clock,
        *,
        zone: tzinfo = UTC,
    ) -> None:
        self.limits = limits
        self.zone = zone
        self.search_per_second = search_per_second
        self.clock = clock
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._recent_search: deque[float] = deque()
        self._day = ""
        self._daily_used = 0

    def admit(self, *, search: bool) -> Verdict:
        """Count one request, or refuse it with HubSpot's 429 body."""
        if self.limits is None:
            return Verdict({})
        with self._lock:
            now = self.clock.monotonic()
            self._roll_day()
            policy = self._exceeded(now, search=search)
            if policy is None:
                self._daily_used += 1
                (self._recent_search if search else self._recent).append(now)
            headers = {} if search else self._headers()
        return Verdict(headers, rate_limit_body(policy) if policy else None)

    def force_refusal(self, *, search: bool) -> Verdict:
        """A 429 injected by a fault (as if the 10-second window were full)."""
        with self._lock:
            headers = {} if search or self.limits is None else self._headers()
        return Verdict(headers, rate_limit_body("SECONDLY" if search else "TEN_SECONDLY_ROLLING"))

    def _exceeded(self, now: float, *, search: bool) -> str | None:
        ten_second, daily = self.limits or (0, 0)
        if daily is not None and self._daily_used >= daily:
            return "DAILY"
        window = self._recent_search if search else self._recent
        span, cap = (ONE_SECOND, self.search_per_second) if search else (TEN_SECONDS, ten_second)
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) >= cap:
            return "SECONDLY" if search else "TEN_SECONDLY_ROLLING"
        return None

    def _roll_day(self) -> None:
        today = self.clock.now().astimezone(self.zone).date().isoformat()
        if today != self._day:
            self._day, self._daily_used = today, 0

    def _headers(self) -> dict[str, str]:
        ten_second, daily = self.limits or (0, 0)
        headers = {
            "X-HubSpot-RateLimit-Max": str(ten_second),
            "X-HubSpot-RateLimit-Remaining": str(max(0, ten_second - len(self._recent))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(TEN_SECONDS * 1000)),
        }
        if daily is not None:  # OAuth apps have no daily limit and get no daily headers
            headers["X-HubSpot-RateLimit-Daily"] = str(daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, daily - self._daily_used))
        return headers
