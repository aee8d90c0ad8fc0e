"""A webhook body as HubSpot sends it (reference §8): a JSON array of events, read into the
deal events the worker acts on. Pydantic only here, at the boundary.

* ``deal.creation``, ``deal.propertyChange``, ``deal.deletion``, ``deal.restore``,
  ``deal.merge`` — and the same as ``object.*`` events with ``objectTypeId`` ``0-3`` (HubSpot's
  newer generic subscriptions) — are deal events.
* A merge names several deals: ``objectId``, ``primaryObjectId`` (the record that remains),
  ``mergedObjectIds`` (the records merged into it) and ``newObjectId`` (a record the merge may
  create). Every one of them is a deal whose pairs must look again.
* Anything else (another object type, ``deal.associationChange``, a type HubSpot adds later) is
  ignored and counted; so is an element without an event id or a subscription type: one odd
  event must not make HubSpot retry, and later lose, the whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sync_worker.kernel.errors import WebhookRefused

DEAL_OBJECT_TYPE = "0-3"


class DealEventKind(StrEnum):
    CREATION = "creation"
    PROPERTY_CHANGE = "propertyChange"
    DELETION = "deletion"
    RESTORE = "restore"
    MERGE = "merge"


@dataclass(frozen=True, slots=True)
class DealEvent:
    """One deal event: which deals changed and how (``portal_id`` as HubSpot sent it)."""

    event_id: str
    kind: DealEventKind
    deal_ids: tuple[str, ...]
    portal_id: int | None
    change_source: str | None = None
    property_name: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedBody:
    """The deal events of a body (first occurrence of each event id) and what was not one."""

    events: tuple[DealEvent, ...]
    ignored: int
    malformed: int


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)

    event_id: str = Field(alias="eventId", min_length=1)
    subscription_type: str = Field(alias="subscriptionType")
    object_type_id: str | None = Field(None, alias="objectTypeId")
    portal_id: int | None = Field(None, alias="portalId")
    object_id: str | None = Field(None, alias="objectId")
    primary_object_id: str | None = Field(None, alias="primaryObjectId")
    merged_object_ids: list[str] = Field(default_factory=list, alias="mergedObjectIds")
    new_object_id: str | None = Field(None, alias="newObjectId")
    change_source: str | None = Field(None, alias="changeSource")
    property_name: str | None = Field(None, alias="propertyName")

    def kind(self) -> DealEventKind | None:
        scope, _, action = self.subscription_type.partition(".")
        is_deal = scope == "deal" or (scope == "object" and self.object_type_id == DEAL_OBJECT_TYPE)
        if not is_deal:
            return None
        try:
            return DealEventKind(action)
        except ValueError:
            return None

    def deal_ids(self) -> tuple[str, ...]:
        named = (self.object_id, self.primary_object_id, *self.merged_object_ids)
        ids = (*named, self.new_object_id)
        return tuple(dict.fromkeys(i for i in ids if i))


def parse_body(body: bytes) -> ParsedBody:
    """Read ``body``; raises :class:`WebhookRefused` (400) when it is not a JSON array: HubSpot
    never sends that."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookRefused(400, "the body is not JSON") from None
    if not isinstance(raw, list):
        raise WebhookRefused(400, "the body is not a JSON array of events")
    return _events(raw)


def _events(raw: Sequence[Any]) -> ParsedBody:
    events: dict[str, DealEvent] = {}
    ignored = malformed = 0
    for item in raw:
        try:
            wire = _Wire.model_validate(item)
        except ValidationError:
            malformed += 1
            continue
        kind = wire.kind()
        ids = wire.deal_ids()
        if kind is None:
            ignored += 1
        elif not ids:
            malformed += 1
        elif wire.event_id not in events:
            events[wire.event_id] = DealEvent(
                wire.event_id, kind, ids, wire.portal_id, wire.change_source, wire.property_name
            )
    return ParsedBody(tuple(events.values()), ignored, malformed)
