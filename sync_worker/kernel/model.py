"""Frozen domain values shared by connectors, the reconciler, the engine and the state store.

A connector returns :class:`DealRecord` s holding **raw CRM property values** (strings, as the
CRM serialises them, or ``None``); the mapping canonicalises them (see
``sync_worker.rules.mapping``)
so that formatting noise never causes a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Side(StrEnum):
    """Which CRM of a pair."""

    PARTNER = "partner"
    REP = "rep"

    @property
    def other(self) -> Side:
        return Side.REP if self is Side.PARTNER else Side.PARTNER


@dataclass(frozen=True, slots=True)
class DealRecord:
    """A deal as a connector returns it.

    ``properties`` maps CRM property names to raw values (``None`` = no value).
    ``property_timestamps`` holds, when the connector fetched property history, when each
    property last changed. ``modified_at`` is the CRM's last-modified time (HubSpot's
    ``hs_lastmodifieddate``), which every write bumps, the worker's own included.
    """

    id: str
    properties: Mapping[str, str | None]
    modified_at: datetime
    property_timestamps: Mapping[str, datetime] = field(default_factory=dict)
    archived: bool = False

    def get(self, name: str) -> str | None:
        """The raw value of ``name``; an empty string counts as no value."""
        value = self.properties.get(name)
        return value if value not in (None, "") else None


@dataclass(frozen=True, slots=True)
class Link:
    """The two ids of one shared deal."""

    partner_id: str
    rep_id: str

    def id_on(self, side: Side) -> str:
        return self.partner_id if side is Side.PARTNER else self.rep_id
