"""The sandbox's view of time: wall time (aware UTC) and a monotonic reading.

Any object with these two methods will do, so tests can drive the sandbox and the worker with
one fake clock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def to_epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, as HubSpot writes datetimes."""
    return int(moment.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
