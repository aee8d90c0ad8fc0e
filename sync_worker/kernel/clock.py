"""The one place that reads the wall clock or sleeps.

Everything else receives a :class:`Clock`, so tests can drive time with :class:`FakeClock`
and never really wait.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sync_worker.kernel.errors import Interrupted


class Clock(Protocol):
    """Wall time (aware UTC), a monotonic reading, and a sleep."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None:
        """Wait; raises :class:`~sync_worker.kernel.errors.Interrupted` once :meth:`interrupt`
        ran."""
        ...

    def interrupt(self) -> None:
        """Cut every sleep short, now and from now on (the process is stopping)."""
        ...


class SystemClock:
    """The real clock."""

    def __init__(self) -> None:
        self._interrupted = threading.Event()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if self._interrupted.wait(max(0.0, seconds)):
            raise Interrupted(f"stopping: a wait of {seconds:.1f} s was cut short")

    def interrupt(self) -> None:
        self._interrupted.set()


class FakeClock:
    """A clock that only moves when slept on or advanced; records every sleep. Thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 1000.0
        self._lock = threading.Lock()
        self._interrupted = False
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        with self._lock:
            if self._interrupted:
                raise Interrupted(f"stopping: a wait of {seconds:.1f} s was cut short")
            self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))

    def interrupt(self) -> None:
        with self._lock:
            self._interrupted = True

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds


def to_epoch_ms(moment: datetime) -> int:
    """Aware datetime -> integer epoch milliseconds (HubSpot's wire form for datetimes)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every datetime in this project is aware UTC")
    return int(moment.timestamp() * 1000)


def from_epoch_ms(ms: int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def parse_datetime(value: object) -> datetime | None:
    """An aware datetime from an ISO-8601 string with an offset (``...Z``) or an epoch-millisecond
    string, as CRMs send them; None for anything else (naive times included)."""
    if not isinstance(value, str) or not value:
        return None
    if value.isascii() and value.isdigit():
        return from_epoch_ms(int(value))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
