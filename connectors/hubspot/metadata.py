"""Portal metadata (owners, pipelines, property definitions) cached once per credential.

Every pair has its own connectors, but the rep CRM is shared by all of them: without sharing,
a thousand pairs would each page through the rep portal's whole owner list every few minutes.
A :class:`MetadataRegistry` (one per process, like the limiter registry) hands every connector
of one credential the same :class:`PortalMetadata`; one load then serves every pair, and a
reload is done by one caller while the others wait for its answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Generic, TypeVar

from pydantic import SecretStr

from sync_worker.connectors.hubspot.ratelimit import token_fingerprint
from sync_worker.kernel.clock import Clock

__all__ = ["Cached", "MetadataRegistry", "PortalMetadata"]

T = TypeVar("T")


class Cached(Generic[T]):
    """One metadata answer, remembered for ``ttl``; one load at a time."""

    def __init__(self, load: Callable[[], T], clock: Clock, ttl: timedelta) -> None:
        self._load = load
        self._clock = clock
        self._ttl = ttl.total_seconds()
        self._value: tuple[float, T] | None = None
        self._lock = threading.Lock()

    def get(self, *, max_age: float | None = None) -> T:
        """The answer, reloaded when older than the ttl (or than ``max_age`` seconds, for a
        caller that knows the answer is stale: an owner id it does not list)."""
        with self._lock:  # held while loading: concurrent callers wait for one answer
            now = self._clock.monotonic()
            expired = self._value is None or now >= self._value[0]
            if not expired and max_age is not None and self._value is not None:
                expired = now - (self._value[0] - self._ttl) > max_age
            if expired or self._value is None:
                value = self._load()
                self._value = (self._clock.monotonic() + self._ttl, value)
            return self._value[1]


class PortalMetadata:
    """The cached metadata of one portal; the first connector to ask supplies the loader."""

    def __init__(self, clock: Clock, ttl: timedelta) -> None:
        self._clock = clock
        self._ttl = ttl
        self._caches: dict[str, Cached[Any]] = {}
        self._lock = threading.Lock()

    def cached(self, name: str, load: Callable[[], T]) -> Cached[T]:
        with self._lock:
            if name not in self._caches:
                self._caches[name] = Cached(load, self._clock, self._ttl)
            cache: Cached[T] = self._caches[name]
            return cache


class MetadataRegistry:
    """One :class:`PortalMetadata` per (base URL, token)."""

    def __init__(self) -> None:
        self._portals: dict[str, PortalMetadata] = {}
        self._lock = threading.Lock()

    def get(
        self, *, base_url: str, token: SecretStr, clock: Clock, ttl: timedelta
    ) -> PortalMetadata:
        label = f"{base_url.rstrip('/')}#{token_fingerprint(token)}"
        with self._lock:
            if label not in self._portals:
                self._portals[label] = PortalMetadata(clock, ttl)
            return self._portals[label]
