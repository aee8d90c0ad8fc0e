"""What a daemon is running and when each pair (or rep discovery) last started and searched.

Keys are pair names and ``endpoint:<name>`` for discoveries. Thread-safe: scheduler threads
claim a key before running it, so a woken run and a scheduled one never overlap in one
process (the pair lease keeps processes apart)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sync_worker.kernel.clock import Clock

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(slots=True)
class Activity:
    clock: Clock
    started: dict[str, datetime] = field(default_factory=dict)
    """When each key's run last started."""
    polled: dict[str, datetime] = field(default_factory=dict)
    """When each key last searched; a woken run between two searches only takes its inbox."""
    running: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def claim(self, key: str, *, polls: bool) -> Iterator[bool]:
        """Yield True while this thread runs ``key`` (False: it is running already)."""
        with self._lock:
            if key in self.running:
                claimed = False
            else:
                claimed = True
                self.running.add(key)
                now = self.clock.now()
                self.started[key] = now
                if polls:
                    self.polled[key] = now
        try:
            yield claimed
        finally:
            if claimed:
                with self._lock:
                    self.running.discard(key)

    def is_running(self, key: str) -> bool:
        with self._lock:
            return key in self.running

    def poll_due(self, key: str, interval_seconds: float) -> bool:
        """Whether ``key``'s interval has passed since it last searched (or it never did)."""
        with self._lock:
            last = self.polled.get(key)
        return last is None or (self.clock.now() - last).total_seconds() >= interval_seconds

    def queued_since_start(self, heads: Mapping[str, datetime]) -> set[str]:
        """Keys whose inbox got an entry after their last run started (never: any entry)."""
        with self._lock:
            return {k for k, at in heads.items() if at > self.started.get(k, _NEVER)}
