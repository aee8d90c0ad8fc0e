"""HubSpot search requests as data, and what HubSpot would refuse in one. Pure: no I/O.

HubSpot search allows 5 filter groups (ORed), 6 filters per group and 18 in all; a pull adds
its window's two filters to **every** group, so a scope group has at most 4 of its own. A body
over 3,000 characters is refused too. :func:`query_problems` finds all of it before any call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sync_worker.kernel.filters import Filter, Scope

__all__ = [
    "MAX_GROUPS",
    "MAX_SCOPE_FILTERS",
    "MAX_SEARCH_BODY_BYTES",
    "MAX_TOTAL_FILTERS",
    "MODIFIED",
    "OBJECT_ID",
    "SEARCH_CAP",
    "filter_groups",
    "filter_json",
    "largest_request_bytes",
    "query_problems",
]

MAX_SCOPE_FILTERS = 4
"""A scope group has at most this many filters: HubSpot search allows 6 per group and the
incremental pull adds 2 of its own to each."""
MAX_GROUPS = 5
MAX_TOTAL_FILTERS = 18
_OWN_FILTERS = 2

MODIFIED = "hs_lastmodifieddate"
OBJECT_ID = "hs_object_id"
SEARCH_CAP = 10_000
MAX_SEARCH_BODY_BYTES = 3_000  # HubSpot answers a larger search body with 400


def filter_json(item: Filter) -> dict[str, object]:
    """A :class:`Filter` in HubSpot's search-request shape."""
    body: dict[str, object] = {"propertyName": item.property, "operator": item.operator}
    if item.values:
        body["values"] = list(item.values)
    elif item.value is not None:
        body["value"] = item.value
    return body


def _filter_count_problems(scope: Scope) -> list[str]:
    groups = max(1, len(scope.groups))
    widest = max((len(g) for g in scope.groups), default=0)
    total = sum(len(g) for g in scope.groups) + _OWN_FILTERS * groups
    if len(scope.groups) > MAX_GROUPS:
        return [f"scope has {len(scope.groups)} filter groups; HubSpot search allows {MAX_GROUPS}"]
    if widest > MAX_SCOPE_FILTERS:
        wide = f"scope has {widest} filters; HubSpot search allows at most {MAX_SCOPE_FILTERS} "
        return [wide + "in a filter group next to the connector's own"]
    if total > MAX_TOTAL_FILTERS:
        many = f"scope needs {total} filters with the connector's own {_OWN_FILTERS} per group; "
        return [many + f"HubSpot search allows {MAX_TOTAL_FILTERS} in all"]
    return []


def query_problems(scope: Scope, properties: Sequence[str], *, page_size: int = 200) -> list[str]:
    """Why HubSpot search would refuse a pull of ``scope`` returning ``properties``, found
    without sending anything: too many groups or filters, or a body over HubSpot's 3,000
    characters (long property lists or IN lists). Empty when every request of the pull fits."""
    counted = _filter_count_problems(scope)
    if counted:
        return counted
    size = largest_request_bytes(scope, properties, page_size=page_size)
    if size <= MAX_SEARCH_BODY_BYTES:
        return []
    too_big = (
        f"a search request would be {size} bytes; HubSpot refuses bodies over "
        f"{MAX_SEARCH_BODY_BYTES} (fewer mapped properties or shorter IN lists in the scope)"
    )
    return [too_big]


def filter_groups(
    groups: Sequence[Sequence[dict[str, object]]], own: list[dict[str, object]]
) -> list[dict[str, object]]:
    """HubSpot ``filterGroups``: ``own`` (the window) added to every group of the scope."""
    if not groups or not all(groups):  # no group, or one that selects everything
        # An empty filter group is omitted: whether HubSpot accepts one is undocumented.
        return [{"filters": own}] if own else []
    return [{"filters": [*group, *own]} for group in groups]


def largest_request_bytes(scope: Scope, properties: Sequence[str], *, page_size: int = 200) -> int:
    """The size of the largest search body a pull sends, encoded as httpx sends it: the id
    tiebreak's two filters with the widest values, or a range page at the deepest offset."""
    widest: list[dict[str, object]] = [
        {"propertyName": MODIFIED, "operator": "GTE", "value": str(10**13 - 1)},
        {"propertyName": OBJECT_ID, "operator": "GT", "value": "9" * 20},
    ]
    groups = [[filter_json(f) for f in g] for g in scope.groups]
    body = {
        "filterGroups": filter_groups(groups, widest),
        "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}],
        "properties": list(dict.fromkeys([*properties, MODIFIED])),
        "limit": page_size,
        "after": str(SEARCH_CAP),
    }
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
