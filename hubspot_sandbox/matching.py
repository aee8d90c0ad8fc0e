"""Which deals a parsed search selects, and in what order (no paging, no caching).

Ordering assumptions (HubSpot leaves them unspecified): ties are broken by object id ascending;
without a sort the order is object id ascending (creation order); deals without a value for the
sort property come last.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from operator import attrgetter, itemgetter

from hubspot_sandbox.filters import Predicate, numeric_getter
from hubspot_sandbox.records import Deal
from hubspot_sandbox.search_parse import FAR, LASTMOD, Group, SearchRequest, Window

Lookup = Callable[[int], Deal]
Key = tuple[int, int]
"""``(hs_lastmodifieddate ms, id)``: the order of the store's modified index."""


def bounds(keys: Sequence[Key], window: Window) -> tuple[int, int]:
    """The slice of ``keys`` whose modified time is inside ``window``."""
    start = bisect.bisect_left(keys, (window.low, -1))
    stop = bisect.bisect_right(keys, (window.high, FAR))
    return start, stop


def groups_of(request: SearchRequest) -> tuple[Group, ...]:
    return request.groups or (Group(Window(), ()),)


def extra_predicates(request: SearchRequest) -> tuple[Predicate, ...]:
    """The free-text ``query`` (a case-insensitive substring of the deal name) as a predicate."""
    if request.query is None:
        return ()
    text = request.query
    return (lambda deal: text in (deal.values.get("dealname") or "").lower(),)


def union_window(request: SearchRequest) -> Window:
    """The smallest window holding every group's window."""
    groups = groups_of(request)
    return Window(min(g.window.low for g in groups), max(g.window.high for g in groups))


def matcher(request: SearchRequest) -> Predicate:
    """Does one (current) deal match the request? Windows, filters, query and archival."""
    checks = [group_check(g, extra_predicates(request)) for g in groups_of(request)]
    return lambda deal: not deal.archived and any(check(deal) for check in checks)


def matching_keys(request: SearchRequest, keys: Sequence[Key], lookup: Lookup) -> list[Key]:
    """Keys of matching deals, in key order (i.e. sorted by hs_lastmodifieddate, then id)."""
    groups = groups_of(request)
    extra = extra_predicates(request)
    if len(groups) == 1:
        start, stop = bounds(keys, groups[0].window)
        return _scan(keys[start:stop], lookup, (*extra, *groups[0].predicates))
    start, stop = bounds(keys, union_window(request))
    checks = [group_check(g, extra) for g in groups]
    return _scan(keys[start:stop], lookup, (lambda deal: any(c(deal) for c in checks),))


def ordered_ids(request: SearchRequest, keys: Sequence[Key], lookup: Lookup) -> list[int]:
    """Ids of matching deals in the order the request asks for."""
    matches = [lookup(deal_id) for _, deal_id in matching_keys(request, keys, lookup)]
    _order(request, matches)
    return [deal.id for deal in matches]


def _scan(keys: Sequence[Key], lookup: Lookup, predicates: Sequence[Predicate]) -> list[Key]:
    """Keys (already inside the window) whose deal passes every predicate."""
    if not predicates:
        return list(keys)
    if len(predicates) == 1:
        only = predicates[0]
        return [key for key in keys if only(lookup(key[1]))]

    def passes(deal: Deal) -> bool:
        return all(p(deal) for p in predicates)

    return [key for key in keys if passes(lookup(key[1]))]


def group_check(group: Group, extra: tuple[Predicate, ...]) -> Predicate:
    low, high = group.window.low, group.window.high
    predicates = (*extra, *group.predicates)
    if not predicates:
        return lambda deal: low <= deal.modified_ms <= high
    return lambda deal: low <= deal.modified_ms <= high and all(p(deal) for p in predicates)


def _order(request: SearchRequest, matches: list[Deal]) -> None:
    """Sort in place; ``matches`` arrive ordered by (hs_lastmodifieddate, id)."""
    name = request.sort.name if request.sort is not None else None
    if name == LASTMOD:
        if request.descending:
            matches.sort(key=attrgetter("modified_ms"), reverse=True)
        return
    matches.sort(key=attrgetter("id"))
    if request.sort is None or name == "hs_object_id":
        if request.descending:
            matches.reverse()
        return
    prop_name = request.sort.name

    def text(deal: Deal) -> str | None:
        return _lower(deal.value(prop_name))

    get = numeric_getter(request.sort) or text
    keyed = [(get(deal), deal) for deal in matches]
    present = [pair for pair in keyed if pair[0] is not None]
    present.sort(key=itemgetter(0), reverse=request.descending)
    matches[:] = [deal for _, deal in present] + [deal for key, deal in keyed if key is None]


def _lower(text: str | None) -> str | None:
    return text.lower() if text is not None else None
