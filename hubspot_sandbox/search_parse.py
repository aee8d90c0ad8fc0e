"""Parse and check a ``POST /crm/v3/objects/deals/search`` body (reference §2).

HubSpot's limits: 5 filter groups, 6 filters per group, 18 filters in all, one sort, ``limit``
10 by default and 200 at most, no paging past 10,000 results. Assumptions where HubSpot is
silent: a second sort, a ``limit`` over 200 or an unknown filter/sort property is a 400; the
10,000 cap rejects any request with ``after + limit > 10000`` (the error wording is ours).
Range filters on ``hs_lastmodifieddate`` become a :class:`Window` the index can bisect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hubspot_sandbox.errors import bad_request
from hubspot_sandbox.filters import Predicate, compile_filter, filter_value
from hubspot_sandbox.properties import PropertyBook
from hubspot_sandbox.spec import PropertyDef

MAX_GROUPS, MAX_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, DEFAULT_LIMIT, MAX_RESULTS = 200, 10, 10_000
LASTMOD = "hs_lastmodifieddate"
FAR = 2**62
_RANGE_OPERATORS = ("EQ", "GT", "GTE", "LT", "LTE", "BETWEEN")


@dataclass(frozen=True, slots=True)
class Window:
    """The ``hs_lastmodifieddate`` range (inclusive, epoch ms) a filter group allows."""

    low: int = -FAR
    high: int = FAR

    @property
    def unbounded(self) -> bool:
        return self.low == -FAR and self.high == FAR


@dataclass(frozen=True, slots=True)
class Group:
    """One filter group: its ``hs_lastmodifieddate`` window and the other filters (AND)."""

    window: Window
    predicates: tuple[Predicate, ...]


@dataclass(frozen=True, slots=True)
class SearchRequest:
    groups: tuple[Group, ...]
    sort: PropertyDef | None
    descending: bool
    query: str | None
    properties: tuple[str, ...] | None
    limit: int
    offset: int
    fingerprint: str
    """Canonical JSON of what selects and orders results (not paging): a cache key."""


def parse_search(body: Any, book: PropertyBook) -> SearchRequest:
    """Validate a search body (missing fields are allowed, as the guide's ``{}`` example)."""
    if not isinstance(body, dict):
        raise bad_request("The search request body must be a JSON object.")
    groups = _parse_groups(body.get("filterGroups") or [], book)
    sort, descending = _parse_sort(body.get("sorts") or [], book)
    limit, offset = _parse_paging(body.get("limit"), body.get("after"))
    properties = body.get("properties")
    query = body.get("query")
    selection = {k: body.get(k) for k in ("filterGroups", "sorts", "query")}
    return SearchRequest(
        groups=groups,
        sort=sort,
        descending=descending,
        query=str(query).lower() if query else None,
        properties=tuple(str(p) for p in properties) if isinstance(properties, list) else None,
        limit=limit,
        offset=offset,
        fingerprint=json.dumps(selection, sort_keys=True, default=str),
    )


def _parse_groups(raw: Any, book: PropertyBook) -> tuple[Group, ...]:
    if not isinstance(raw, list) or not all(isinstance(g, dict) for g in raw):
        raise bad_request("filterGroups must be a list of objects.")
    filters = [g.get("filters") or [] for g in raw]
    total = sum(len(f) for f in filters)
    if len(raw) > MAX_GROUPS or total > MAX_FILTERS or any(len(f) > MAX_PER_GROUP for f in filters):
        raise bad_request(
            f"Too many filters: a search allows at most {MAX_GROUPS} filterGroups, "
            f"{MAX_PER_GROUP} filters per group and {MAX_FILTERS} filters in total "
            f"(got {len(raw)} groups, {total} filters).",
            subCategory="TOO_MANY_FILTERS",
        )
    return tuple(_group(f, book) for f in filters)


def _group(raw_filters: list[Any], book: PropertyBook) -> Group:
    window, predicates = Window(), []
    for raw in raw_filters:
        predicate = compile_filter(raw, book)
        if raw.get("propertyName") == LASTMOD and raw.get("operator") in _RANGE_OPERATORS:
            window = _narrow(window, raw, book)
        else:
            predicates.append(predicate)
    return Group(window, tuple(predicates))


def _narrow(window: Window, raw: dict[str, Any], book: PropertyBook) -> Window:
    prop = book.defs[LASTMOD]
    operator = raw.get("operator")
    value = int(filter_value(prop, raw.get("value")))
    low, high = window.low, window.high
    if operator in ("EQ", "GT", "GTE", "BETWEEN"):
        low = max(low, value + 1 if operator == "GT" else value)
    if operator in ("EQ", "LT", "LTE"):
        high = min(high, value - 1 if operator == "LT" else value)
    if operator == "BETWEEN":
        high = min(high, int(filter_value(prop, raw.get("highValue"))))
    return Window(low, high)


def _parse_sort(raw: Any, book: PropertyBook) -> tuple[PropertyDef | None, bool]:
    if not isinstance(raw, list):
        raise bad_request("sorts must be a list.")
    if len(raw) > 1:
        raise bad_request("Only one sort is allowed per search request.")
    if not raw:
        return None, False
    sort = raw[0]
    if isinstance(sort, str):
        name, direction = sort.lstrip("-"), ("DESCENDING" if sort.startswith("-") else "ASCENDING")
    elif isinstance(sort, dict):
        name, direction = str(sort.get("propertyName")), str(sort.get("direction", "ASCENDING"))
    else:
        raise bad_request("A sort is an object {propertyName, direction}.")
    if name not in book.defs or direction not in ("ASCENDING", "DESCENDING"):
        raise bad_request(f"Invalid sort {sort!r}.")
    return book.defs[name], direction == "DESCENDING"


def _parse_paging(limit_raw: Any, after_raw: Any) -> tuple[int, int]:
    limit = _as_int(limit_raw, DEFAULT_LIMIT, "limit")
    offset = _as_int(after_raw, 0, "after")
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit must be between 1 and {MAX_LIMIT}, got {limit}.")
    if offset + limit > MAX_RESULTS:
        raise bad_request(
            f"Paging is limited to {MAX_RESULTS} results per search query "
            f"(after={offset}, limit={limit}). Narrow the query instead.",
            subCategory="PAGING_LIMIT_EXCEEDED",
        )
    return limit, offset


def _as_int(raw: Any, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    text = str(raw)
    if not (text.isascii() and text.isdigit()):
        raise bad_request(f"{name} must be a non-negative integer, got {raw!r}.")
    return int(text)
