"""Who is signed in: checking a name and password, and slowing down people who guess.

Passwords are compared as SHA-256 digests with :func:`hmac.compare_digest`, so neither the
comparison's time nor an unknown name (compared against a dummy) tells a guesser anything.

:class:`LoginThrottle`: each failed sign-in counts against the name tried and against the
client's address. After ``free`` failures in a row, the next attempt for that name or from that
address must wait ``2 ** (failures - free)`` seconds (at most ``cap``): an attempt made earlier is
refused without checking the password. A success clears the name's and the address's counts.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sync_worker.runtime.console_settings import ConsoleRole, ConsoleUser

FREE_FAILURES = 3
MAX_WAIT_SECONDS = 300.0
FORGET_AFTER_SECONDS = 3600.0
"""A name or address idle this long after its last failure starts afresh."""
MAX_TRACKED = 10_000
"""Guessers from many addresses cannot make the throttle's memory grow without bound."""


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class Credentials:
    """The people who may sign in, by name."""

    def __init__(self, users: Sequence[ConsoleUser]) -> None:
        self._users = {u.name: u for u in users}
        self._dummy = _digest("no such user: compared so that timing says nothing")

    def verify(self, name: str, password: str) -> ConsoleUser | None:
        """The user when ``password`` is theirs, else None."""
        user = self._users.get(name)
        expected = _digest(user.password.get_secret_value()) if user else self._dummy
        matches = hmac.compare_digest(_digest(password), expected)
        return user if matches and user is not None else None

    def current(self, name: object, role: object) -> ConsoleUser | None:
        """The user a session names, if they still exist with that role (a person removed
        from the users file, or given another role, must sign in again)."""
        user = self._users.get(name) if isinstance(name, str) else None
        return user if user is not None and user.role.value == role else None


def may_act(user: ConsoleUser) -> bool:
    return user.role is ConsoleRole.OPERATOR


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    blocked_until: float


class LoginThrottle:
    """See the module docstring. Thread-safe; ``clock`` is a monotonic clock in seconds."""

    def __init__(
        self,
        *,
        free: int = FREE_FAILURES,
        cap: float = MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free
        self._cap = cap
        self._clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, keys: Iterable[str]) -> float:
        """How long before an attempt for ``keys`` (name, address) may be checked; 0 = now."""
        now = self._clock()
        with self._lock:
            waits = [f.blocked_until - now for k in keys if (f := self._failures.get(k))]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            self._forget_idle(now)
            for key in keys:
                found = self._failures.get(key)
                count = 1 if found is None else found.count + 1
                over = count - self._free
                wait = 0.0 if over < 0 else min(self._cap, 2.0**over)
                self._failures[key] = _Failures(count, now, now + wait)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, f in self._failures.items() if now - f.last > FORGET_AFTER_SECONDS]
        for key in idle:
            del self._failures[key]
        while len(self._failures) >= MAX_TRACKED:  # the oldest first (dicts keep order)
            del self._failures[next(iter(self._failures))]
