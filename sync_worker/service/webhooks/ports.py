"""What the webhook route needs from the rest of the daemon, as small ports.

:class:`InboxEntry` mirrors the per-pair inbox entry of the state store (issue 11): a deal id
that changed, for a pair (``key`` = the pair's name) or for a rep endpoint whose pairs only a
read of the deal can tell (``key`` = ``endpoint:<name>``; discovery routes it). The route hands
entries to a :data:`Sink`, which must store them durably before it returns: the route answers
HubSpot 2xx only after that, so a crash before the answer is covered by HubSpot's retries.
Then it calls :data:`Wake` with the keys, which runs those pairs (debounced) soon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync_worker.kernel.model import Side

ENDPOINT_KEY_PREFIX = "endpoint:"
WEBHOOK_SOURCE = "webhook"


def endpoint_key(endpoint: str) -> str:
    """The inbox key of a rep endpoint's changes: ``endpoint:<name>``."""
    return f"{ENDPOINT_KEY_PREFIX}{endpoint}"


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A changed deal for a pair's (or a rep endpoint's) inbox."""

    key: str
    side: Side
    record_id: str
    source: str
    queued_at: datetime


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
