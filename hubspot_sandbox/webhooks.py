"""Webhook subscriptions of a sandbox portal and the events a change produces (reference §8).

A portal with a :class:`WebhookSpec` sends its app's events to one target URL, as a HubSpot
app does. What each change sends, in HubSpot's wire shape (``eventId`` and ``attemptNumber``
are added by :mod:`hubspot_sandbox.delivery`):

* a creation: ``deal.creation`` (``changeFlag`` ``NEW``), and a ``deal.propertyChange`` for each
  subscribed property it set;
* a write: a ``deal.propertyChange`` per subscribed property it set, **whoever wrote** — a user
  in the UI, an import, a calculation, or the app's own API call (HubSpot's documentation does
  not say it spares the app its own writes: the harsher reading), and even when the value did
  not change (the sandbox's history records same-value writes too);
* an archive: ``deal.deletion`` (``changeFlag`` ``DELETED``); a restore: ``deal.restore``;
* a merge: ``deal.merge`` naming ``primaryObjectId`` (the deal that remains, which keeps its
  id here, so ``newObjectId`` is the same), ``mergedObjectIds`` and ``numberOfPropertiesMoved``;
  plus a ``propertyChange`` per subscribed value that moved.

The registration count (a calculated property) changes as ``deal.propertyChange`` of
``hs_num_associated_active_deal_registrations`` when subscribed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, fields
from typing import Any

from hubspot_sandbox.changes import ChangeKind, StoreChange
from hubspot_sandbox.properties import REGISTRATIONS
from hubspot_sandbox.records import REGISTERED_KEY

EVENT_TYPES = frozenset(kind.value for kind in ChangeKind)
"""``creation``, ``propertyChange``, ``deletion``, ``restore``, ``merge``."""
RETRY_DELAYS_SECONDS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0, 36000.0)
"""Between the 10 attempts: about 24 hours in all (each delay is randomised by +-25 %)."""


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """A portal's webhook app: where events go and how they are delivered.

    ``events``: the subscribed deal event types (:data:`EVENT_TYPES`); ``properties``: the
    properties with a ``propertyChange`` subscription (None: every property). Delivery:
    batches of up to ``batch_size`` events gathered for ``batch_window_seconds``, up to
    ``max_concurrent`` requests at once, each failing past ``timeout_seconds``; a failed request
    (non-2xx, timeout, connection error) is retried up to ``max_attempts`` attempts in all,
    after ``retry_delays_seconds`` times ``time_scale`` (compress HubSpot's 24 hours for tests),
    then its events are lost. ``duplicate_rate``: the share of events sent a second time in a
    later request; ``shuffle``: events leave in no particular order. ``portal_id`` is HubSpot's
    account id in the events (None: a number derived from the portal's name).
    """

    target_url: str
    client_secret: str = field(repr=False)
    app_id: int = 1
    portal_id: int | None = None
    events: frozenset[str] = EVENT_TYPES
    properties: frozenset[str] | None = None
    batch_size: int = 100
    batch_window_seconds: float = 0.05
    max_concurrent: int = 10
    timeout_seconds: float = 5.0
    max_attempts: int = 10
    retry_delays_seconds: tuple[float, ...] = RETRY_DELAYS_SECONDS
    time_scale: float = 1.0
    duplicate_rate: float = 0.0
    shuffle: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.target_url.startswith(("http://", "https://")):
            raise ValueError(f"target_url must be an http(s) URL, got {self.target_url!r}")
        if not self.client_secret:
            raise ValueError("client_secret must not be empty")
        unknown = set(self.events) - EVENT_TYPES
        if unknown:
            raise ValueError(f"unknown event types {sorted(unknown)}; known: {sorted(EVENT_TYPES)}")
        if not 0.0 <= self.duplicate_rate <= 1.0:
            raise ValueError(f"duplicate_rate must be between 0 and 1, got {self.duplicate_rate}")
        if not 1 <= self.batch_size <= 1000 or self.max_attempts < 1 or self.max_concurrent < 1:
            raise ValueError("batch_size (1..1000), max_attempts and max_concurrent must be >= 1")

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> WebhookSpec:
        """Build from the admin API's JSON body; unknown keys are a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown webhook settings {sorted(unknown)}; known: {sorted(known)}")
        values = dict(raw)
        for name in ("events", "properties"):
            if values.get(name) is not None:
                values[name] = frozenset(values[name])
        if "retry_delays_seconds" in values:
            values["retry_delays_seconds"] = tuple(values["retry_delays_seconds"])
        return cls(**values)

    def subscribed(self, kind: ChangeKind) -> bool:
        return kind.value in self.events

    def watches(self, name: str) -> bool:
        return self.properties is None or name in self.properties


def hub_id(portal_name: str) -> int:
    """A stable 8-digit HubSpot account id for a portal name."""
    return 10_000_000 + zlib.crc32(portal_name.encode()) % 90_000_000


def subscription_id(kind: ChangeKind, name: str | None = None) -> int:
    """A stable subscription id per event type (and property, for property changes)."""
    return 100_000 + zlib.crc32(f"{kind.value}:{name or ''}".encode()) % 900_000


def events_for(change: StoreChange, spec: WebhookSpec, portal_id: int) -> list[dict[str, Any]]:
    """The subscribed events ``change`` produces, without ``eventId``/``attemptNumber``."""
    common: dict[str, Any] = {
        "portalId": portal_id,
        "appId": spec.app_id,
        "occurredAt": change.at_ms,
        "objectId": change.deal_id,
        "changeSource": change.source,
    }
    if change.source_id is not None:
        common["sourceId"] = change.source_id
    events: list[dict[str, Any]] = []
    if change.kind is not ChangeKind.UPDATED and spec.subscribed(change.kind):
        events.append({**common, **_headline(change)})
    if spec.subscribed(ChangeKind.UPDATED):
        for name, value in _properties(change):
            if spec.watches(name):
                events.append(
                    {
                        **common,
                        "subscriptionType": "deal.propertyChange",
                        "subscriptionId": subscription_id(ChangeKind.UPDATED, name),
                        "propertyName": name,
                        "propertyValue": value,
                    }
                )
    return events


def _headline(change: StoreChange) -> dict[str, Any]:
    event: dict[str, Any] = {
        "subscriptionType": f"deal.{change.kind.value}",
        "subscriptionId": subscription_id(change.kind),
    }
    if change.kind is ChangeKind.CREATED:
        event["changeFlag"] = "NEW"
    elif change.kind is ChangeKind.ARCHIVED:
        event["changeFlag"] = "DELETED"
    elif change.kind is ChangeKind.MERGED:
        event.update(
            primaryObjectId=change.deal_id,
            mergedObjectIds=list(change.merged_ids),
            newObjectId=change.deal_id,
            numberOfPropertiesMoved=change.properties_moved,
        )
    return event


def _properties(change: StoreChange) -> list[tuple[str, str]]:
    """The (property, new value) pairs a change set, hidden keys translated or left out."""
    pairs = []
    for name, value in change.changes.items():
        if name == REGISTERED_KEY:
            pairs.append((REGISTRATIONS, "1" if value else "0"))
        elif not name.startswith("__"):
            pairs.append((name, value))
    return pairs
