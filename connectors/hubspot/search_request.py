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
    "filter_groups",
    "filter_json",
    "largest_request_bytes",
    "query_problems",
    "search_body",
    "window_filters",
]

MAX_SCOPE_FILTERS = 4
"""A scope group has at most this many filters: HubSpot search allows 6 per group and the
incremental pull adds 2 of its own to each."""
MAX_GROUPS = 5
MAX_TOTAL_FILTERS = 18
_OWN_FILTERS = 2

MODIFIED = "hs_lastmodifieddate"
OBJECT_ID = "hs_object_id"
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


def window_filters(
    since: int | None, until: int | None, after_id: str | None
) -> list[dict[str, object]]:
    """A pull's own filters: its time window (one filter) and the id to continue after."""
    filters: list[dict[str, object]] = []
    if since is not None and until is not None:
        window = {"operator": "BETWEEN", "value": str(since), "highValue": str(until)}
        filters.append({"propertyName": MODIFIED, **window})
    elif since is not None:
        filters.append({"propertyName": MODIFIED, "operator": "GTE", "value": str(since)})
    elif until is not None:
        filters.append({"propertyName": MODIFIED, "operator": "LTE", "value": str(until)})
    if after_id is not None:
        filters.append({"propertyName": OBJECT_ID, "operator": "GT", "value": after_id})
    return filters


def search_body(
    groups: Sequence[Sequence[dict[str, object]]],
    own: list[dict[str, object]],
    properties: Sequence[str],
    page_size: int,
) -> dict[str, object]:
    """One search request of a pull: the scope's groups each with the pull's own filters,
    sorted by id, returning ``properties`` (and the modification time)."""
    return {
        "filterGroups": filter_groups(groups, own),
        "sorts": [{"propertyName": OBJECT_ID, "direction": "ASCENDING"}],
        "properties": list(dict.fromkeys([*properties, MODIFIED])),
        "limit": page_size,
    }


def largest_request_bytes(scope: Scope, properties: Sequence[str], *, page_size: int = 200) -> int:
    """The size of the largest search body a pull sends, encoded as httpx sends it: every group
    with the widest window and the widest id to continue after."""
    widest = 10**13 - 1
    groups = [[filter_json(f) for f in g] for g in scope.groups]
    body = search_body(groups, window_filters(widest, widest, "9" * 20), properties, page_size)
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
