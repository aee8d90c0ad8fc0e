"""Frozen domain values shared by connectors, the reconciler, the engine and the state store.

A connector returns :class:`DealRecord` s holding **raw CRM property values** (strings, as the
CRM serialises them, or ``None``); the mapping canonicalises them (see
``sync_worker.rules.mapping``)
so that formatting noise never causes a write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class Side(StrEnum):
    """Which CRM of a pair."""

    PARTNER = "partner"
    REP = "rep"

    @property
    def other(self) -> Side:
        return Side.REP if self is Side.PARTNER else Side.PARTNER


@dataclass(frozen=True, slots=True)
class BySide(Generic[T]):
    """One value per side of a pair: ``values[side]`` instead of a ternary on the side."""

    partner: T
    rep: T

    def __getitem__(self, side: Side) -> T:
        return self.partner if side is Side.PARTNER else self.rep

    def items(self) -> Iterator[tuple[Side, T]]:
        yield Side.PARTNER, self.partner
        yield Side.REP, self.rep

    def map(self, fn: Callable[[Side, T], U]) -> BySide[U]:
        return BySide(fn(Side.PARTNER, self.partner), fn(Side.REP, self.rep))

    def with_value(self, side: Side, value: T) -> BySide[T]:
        return BySide(value, self.rep) if side is Side.PARTNER else BySide(self.partner, value)

    @classmethod
    def build(cls, fn: Callable[[Side], T]) -> BySide[T]:
        return cls(fn(Side.PARTNER), fn(Side.REP))


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

    @property
    def ids(self) -> BySide[str]:
        return BySide(self.partner_id, self.rep_id)

    def id_on(self, side: Side) -> str:
        return self.ids[side]
