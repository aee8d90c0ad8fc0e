"""The one retry policy, wrapped around the single HTTP send in
:mod:`sync_worker.connectors.hubspot.client`.

It retries :class:`~sync_worker.kernel.errors.TransientError` (which includes ``RateLimited``) and
nothing else: auth, permanent and daily-limit errors surface at once. A wait the server asked for
(``retry_after``) is honoured, capped; otherwise exponential backoff with jitter. After
``attempts`` tries the last error is re-raised as itself (never ``tenacity.RetryError``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
import tenacity
from tenacity.wait import wait_base

from sync_worker.kernel.errors import TransientError

__all__ = ["RetrySettings", "WaitRetryAfter", "make_retrying"]

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """Tunables of the retry policy; the defaults suit HubSpot's limits."""

    attempts: int = 6
    multiplier: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 120.0


class WaitRetryAfter(wait_base):
    """Wait what the error asked for (``retry_after``, capped), else fall back to ``fallback``."""

    def __init__(self, fallback: wait_base, cap: float) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = getattr(error, "retry_after", None)
        if isinstance(asked, int | float) and asked >= 0:
            return min(float(asked), self.cap)
        return self.fallback(retry_state)


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    outcome = retry_state.outcome
    error = outcome.exception() if outcome is not None else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    _log.warning(
        "hubspot.retry",
        attempt=retry_state.attempt_number,
        wait_s=round(wait, 3),
        error=str(error),
        error_type=type(error).__name__,
    )


def make_retrying(
    sleep: Callable[[float], None], settings: RetrySettings | None = None
) -> tenacity.Retrying:
    """A fresh ``Retrying`` (it keeps per-call state, so build one per send)."""
    settings = settings or RetrySettings()
    backoff = tenacity.wait_exponential_jitter(
        multiplier=settings.multiplier, max=settings.max_backoff, jitter=settings.jitter
    )
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        wait=WaitRetryAfter(backoff, settings.max_retry_after),
        stop=tenacity.stop_after_attempt(settings.attempts),
        sleep=sleep,
        reraise=True,
        before_sleep=_log_retry,
    )
