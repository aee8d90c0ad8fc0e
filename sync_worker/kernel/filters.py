"""Scope filters as neutral values, and their meaning as a pure predicate.

The vocabulary is HubSpot search's (the first CRM); a connector translates it to its own query.

Used by :class:`tests.doubles.memory.InMemoryConnector` (and the test fakes built on it) so that a
scope filter selects the same deals there as in HubSpot's search:

* numbers compare numerically, ``date``/``datetime`` values as epoch milliseconds (ISO-8601 or
  epoch-ms strings), enumerations case-sensitively, other strings case-insensitively;
* a multi-select (``checkbox``) value matches ``EQ``/``IN`` when any selected option matches and
  ``NEQ``/``NOT_IN`` when none does;
* a record without a value never matches a comparison; it matches ``NEQ``, ``NOT_IN`` and
  ``NOT_HAS_PROPERTY`` (HubSpot does not document the ``NEQ`` case; this is our assumption);
* ``BETWEEN`` takes ``values=(low, high)``, inclusive.

A :class:`Scope` is what selects a side's deals: filter groups that are ORed, each an AND of
filters (HubSpot search's ``filterGroups``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sync_worker.kernel.clock import parse_datetime, to_epoch_ms
from sync_worker.kernel.errors import PermanentError

__all__ = ["OPERATORS", "Filter", "PropertyShape", "Scope", "matches"]


@dataclass(frozen=True, slots=True)
class Filter:
    """One search filter, HubSpot's vocabulary (``EQ``, ``NEQ``, ``GT``, ``GTE``, ``LT``, ``LTE``,
    ``IN``, ``NOT_IN``, ``HAS_PROPERTY``, ``NOT_HAS_PROPERTY``). Filters of a group are ANDed."""

    property: str
    operator: str
    value: str | None = None
    values: tuple[str, ...] = ()

    def describe(self) -> str:
        """The filter as a person reads it: ``amount GT 0``, ``stage IN (a, b)``."""
        if self.values:
            return f"{self.property} {self.operator} ({', '.join(self.values)})"
        if self.value is None:
            return f"{self.property} {self.operator}"
        return f"{self.property} {self.operator} {self.value}"


class PropertyShape(Protocol):
    """What a filter needs to know of a property: its value type (``number``, ``date``,
    ``datetime``, ``enumeration``, ``bool``, ``string``) and field type (``checkbox`` for a
    multi-select). A connector's property definition has both."""

    @property
    def type(self) -> str: ...

    @property
    def field_type(self) -> str: ...


Key = float | int | str
_ORDER: dict[str, Callable[[Key, Key], bool]] = {
    "LT": operator.lt,
    "LTE": operator.le,
    "GT": operator.gt,
    "GTE": operator.ge,
}
_EQUALITY = frozenset({"EQ", "NEQ", "IN", "NOT_IN"})
OPERATORS = frozenset({*_ORDER, *_EQUALITY, "BETWEEN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"})


def _key(raw: str, prop: PropertyShape | None) -> Key | None:
    kind = prop.type if prop else "string"
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return None
    if kind in ("date", "datetime"):
        moment = parse_datetime(raw)
        return to_epoch_ms(moment) if moment else None
    return raw if kind in ("enumeration", "bool") else raw.lower()


def _selected(raw: str, prop: PropertyShape | None) -> list[str]:
    if prop is not None and prop.field_type == "checkbox":
        return [part for part in raw.split(";") if part]
    return [raw]


def _wanted(item: Filter) -> list[str]:
    if item.values:
        return list(item.values)
    return [item.value] if item.value is not None else []


def _equality(item: Filter, raw: str, prop: PropertyShape | None) -> bool:
    wanted = {_key(v, prop) for v in _wanted(item)}
    hit = any(_key(v, prop) in wanted for v in _selected(raw, prop))
    return hit if item.operator in ("EQ", "IN") else not hit


def _ordered(item: Filter, raw: str, prop: PropertyShape | None) -> bool:
    current = _key(raw, prop)
    bounds = [_key(v, prop) for v in _wanted(item)]
    if current is None or not bounds or any(b is None for b in bounds):
        return False
    try:
        if item.operator == "BETWEEN":
            return bounds[0] <= current <= bounds[-1]  # type: ignore[operator]
        return _ORDER[item.operator](current, bounds[0])  # type: ignore[arg-type]
    except TypeError:  # mixed kinds, e.g. a number property holding text
        return False


def matches(item: Filter, raw: str | None, prop: PropertyShape | None) -> bool:
    """Whether a record whose ``item.property`` holds ``raw`` passes the filter ``item``."""
    if item.operator not in OPERATORS:
        raise PermanentError(f"unsupported filter operator {item.operator!r}")
    present = raw not in (None, "")
    if item.operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return present == (item.operator == "HAS_PROPERTY")
    if raw is None or raw == "":
        return item.operator in ("NEQ", "NOT_IN")
    if item.operator in _EQUALITY:
        return _equality(item, raw, prop)
    return _ordered(item, raw, prop)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which deals of a side are selected: ``groups`` are ORed, the filters of a group ANDed
    (HubSpot search's ``filterGroups``). No group at all, or an empty group, selects every deal."""

    groups: tuple[tuple[Filter, ...], ...] = ()

    @classmethod
    def all_of(cls, filters: Iterable[Filter]) -> Scope:
        """One group: every filter must hold (a mapping's scope for one side)."""
        group = tuple(filters)
        return cls((group,) if group else ())

    def properties(self) -> tuple[str, ...]:
        """Every property a filter of the scope reads, once each, in order."""
        return tuple(dict.fromkeys(f.property for g in self.groups for f in g))

    def selects(
        self, values: Mapping[str, str | None], shapes: Mapping[str, PropertyShape]
    ) -> bool:
        """Whether a deal holding ``values`` is selected (``shapes``: property definitions)."""
        if not self.groups:
            return True
        return any(
            all(matches(f, values.get(f.property), shapes.get(f.property)) for f in group)
            for group in self.groups
        )
