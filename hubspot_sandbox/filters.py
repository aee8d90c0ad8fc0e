"""Search filters compiled to predicates over deals, with HubSpot's comparison rules.

- number, datetime and date properties compare numerically; datetimes accept epoch ms or ISO-8601
  in the filter value (reference §2);
- string properties compare case-insensitively, except ``IN``/``NOT_IN`` whose values HubSpot
  requires in lowercase: a value with capitals never matches (as in HubSpot);
- enumeration properties compare case-sensitively; for multi-select (``checkbox``) properties the
  operators apply to the selected options one by one (``EQ x`` = x is selected) — assumption;
- a deal without a value matches ``NEQ``, ``NOT_IN`` and ``NOT_HAS_PROPERTY`` only — assumption;
- ``CONTAINS_TOKEN`` matches whole words, ``*`` is a wildcard.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Collection
from operator import attrgetter
from typing import Any

from hubspot_sandbox.errors import bad_request
from hubspot_sandbox.properties import READ_ONLY_SYSTEM as SYSTEM
from hubspot_sandbox.properties import REGISTRATIONS, PropertyBook, parse_datetime_ms
from hubspot_sandbox.records import Deal
from hubspot_sandbox.spec import PropertyDef

Predicate = Callable[[Deal], bool]
Getter = Callable[[Deal], Any]
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
_WORDS = re.compile(r"[^\w@.\-]+")


def compile_filter(raw: Any, book: PropertyBook) -> Predicate:
    """One ``{propertyName, operator, value|values|highValue}`` -> predicate; 400 if malformed."""
    if not isinstance(raw, dict):
        raise bad_request("Each filter must be an object.")
    name, operator = raw.get("propertyName"), raw.get("operator")
    prop = book.defs.get(str(name))
    if prop is None:
        raise bad_request(
            f"Property {name!r} does not exist on deals.", subCategory="INVALID_FILTER"
        )
    if operator not in OPERATORS:
        raise bad_request(
            f"Operator {operator!r} is not supported; use one of {sorted(OPERATORS)}."
        )
    present = _presence(prop)
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return present if operator == "HAS_PROPERTY" else (lambda deal: not present(deal))
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        matcher = _token_matcher(prop, str(raw.get("value", "")))
        return matcher if operator == "CONTAINS_TOKEN" else (lambda deal: not matcher(deal))
    if prop.type == "enumeration" and prop.field_type == "checkbox":
        return _multi_select(prop, operator, raw)
    return _compare(prop, operator, raw)


def numeric_getter(prop: PropertyDef) -> Getter | None:
    """How to read ``prop`` as a number (epoch ms for dates); None for text properties."""
    special: dict[str, Getter] = {
        "hs_lastmodifieddate": attrgetter("modified_ms"),
        "hs_object_id": attrgetter("id"),
        REGISTRATIONS: attrgetter("registered"),
    }
    if prop.name in special:
        return special[prop.name]
    if prop.type == "number":
        return _stored_number(prop.name)
    if prop.type in ("datetime", "date"):
        return lambda deal: _to_ms(deal.values.get(prop.name))
    return None


def text_getter(prop: PropertyDef) -> Getter:
    """How to read ``prop`` for text comparison (lowercased unless it is an enumeration)."""
    name = prop.name
    if prop.type == "enumeration":
        return lambda deal: deal.values.get(name)
    if name in SYSTEM:
        return lambda deal: _lower(deal.value(name))
    return lambda deal: None if (v := deal.values.get(name)) is None else v.lower()


def filter_value(prop: PropertyDef, value: Any) -> Any:
    """Convert a filter's value to what :func:`numeric_getter`/:func:`text_getter` return."""
    text = "" if value is None else str(value)
    if numeric_getter(prop) is None:
        return text if prop.type == "enumeration" else text.lower()
    converted = parse_datetime_ms(text) if prop.type in ("datetime", "date") else _to_float(text)
    if converted is None:
        raise bad_request(f"{text!r} is not a valid value for {prop.name} ({prop.type}).")
    return converted


def _compare(prop: PropertyDef, operator: str, raw: dict[str, Any]) -> Predicate:
    get = numeric_getter(prop) or text_getter(prop)
    if operator in ("IN", "NOT_IN"):
        wanted = _in_values(prop, raw)
        if operator == "IN":
            return lambda deal: get(deal) in wanted
        return lambda deal: get(deal) not in wanted
    low = filter_value(prop, raw.get("value"))
    if operator == "BETWEEN":
        high = filter_value(prop, raw.get("highValue"))
        return lambda deal: (v := get(deal)) is not None and low <= v <= high
    return _COMPARISONS[operator](get, low)


_COMPARISONS: dict[str, Callable[[Getter, Any], Predicate]] = {
    "EQ": lambda get, x: lambda deal: get(deal) == x,
    "NEQ": lambda get, x: lambda deal: get(deal) != x,
    "LT": lambda get, x: lambda deal: (v := get(deal)) is not None and v < x,
    "LTE": lambda get, x: lambda deal: (v := get(deal)) is not None and v <= x,
    "GT": lambda get, x: lambda deal: (v := get(deal)) is not None and v > x,
    "GTE": lambda get, x: lambda deal: (v := get(deal)) is not None and v >= x,
}


def _in_values(prop: PropertyDef, raw: dict[str, Any]) -> frozenset[Any]:
    values = raw.get("values")
    if not isinstance(values, list):
        raise bad_request("IN and NOT_IN filters need a 'values' list.")
    if numeric_getter(prop) is not None:
        return frozenset(filter_value(prop, v) for v in values)
    return frozenset(str(v) for v in values)


def _multi_select(prop: PropertyDef, operator: str, raw: dict[str, Any]) -> Predicate:
    def selected(deal: Deal) -> set[str]:
        return {part for part in (deal.values.get(prop.name) or "").split(";") if part}

    if operator in ("IN", "NOT_IN"):
        wanted: Collection[str] = _in_values(prop, raw)
    elif operator in ("EQ", "NEQ"):
        wanted = {str(raw.get("value", ""))}
    else:
        raise bad_request(f"Operator {operator} is not supported for {prop.name}.")
    if operator in ("IN", "EQ"):
        return lambda deal: bool(selected(deal) & set(wanted))
    return lambda deal: not selected(deal) & set(wanted)


def _presence(prop: PropertyDef) -> Predicate:
    name = prop.name
    if name in SYSTEM:
        return lambda deal: deal.value(name) is not None
    return lambda deal: name in deal.values


def _token_matcher(prop: PropertyDef, pattern: str) -> Predicate:
    pattern = pattern.lower().strip()
    if "*" in pattern:
        return lambda deal: any(fnmatch.fnmatchcase(t, pattern) for t in _tokens(deal, prop))
    needed = [t for t in _WORDS.split(pattern) if t]
    return lambda deal: bool(needed) and set(needed) <= set(_tokens(deal, prop))


def _tokens(deal: Deal, prop: PropertyDef) -> list[str]:
    text = (deal.value(prop.name) or "").lower()
    return [t for t in _WORDS.split(text.replace(";", " ")) if t]


def _lower(text: str | None) -> str | None:
    return text.lower() if text is not None else None


def _stored_number(name: str) -> Getter:
    """Stored numbers were validated on write, so they always parse."""

    def number(deal: Deal) -> float | None:
        text = deal.values.get(name)
        return None if text is None else float(text)

    return number


def _to_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _to_ms(text: str | None) -> int | None:
    return parse_datetime_ms(text) if text is not None else None
