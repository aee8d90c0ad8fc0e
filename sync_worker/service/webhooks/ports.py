"""What the webhook route needs from the rest of the daemon, as small ports.

The route hands :class:`~sync_worker.state.base.InboxEntry` values (a changed deal for a pair,
or for a rep endpoint whose pairs only a read of the deal can tell: ``endpoint:<name>``, which
discovery routes) to a :data:`Sink` that stores them durably before it returns (the daemon's is
the state store's ``enqueue``): the route answers HubSpot 2xx only after that, so a crash before
the answer is covered by HubSpot's retries. Then it calls :data:`Wake` with the keys (the
daemon's ``wake``: those pairs and discoveries run soon, debounced).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from sync_worker.state.base import InboxEntry

WEBHOOK_SOURCE = "webhook"

Sink = Callable[[Sequence[InboxEntry]], None]
"""Stores entries durably (idempotent per key, side and record id) before returning."""

Wake = Callable[[Iterable[str]], None]
"""Asks for the pairs (or endpoint discoveries) behind these keys to run soon; never blocks."""


class WebhookLedger(Protocol):
    """Recent signatures and event ids per endpoint (the state store's ``sw_webhook_seen``)."""

    def claim_signature(self, endpoint: str, signature: str, expires_at: datetime) -> bool: ...

    def unseen_events(self, endpoint: str, event_ids: Sequence[str]) -> set[str]: ...

    def remember_events(
        self, endpoint: str, event_ids: Sequence[str], expires_at: datetime
    ) -> None: ...

    def forget_expired(self, now: datetime) -> int: ...
