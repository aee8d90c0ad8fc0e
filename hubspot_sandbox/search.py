"""Run a parsed search: match, order and page without sorting the portal per request.

Candidates come from the store's ``(hs_lastmodifieddate, id)`` index, narrowed by bisect to the
filter groups' ``hs_lastmodifieddate`` windows. When only such a window filters and the order is
``hs_lastmodifieddate`` ascending (or id with no window), the page is an index slice. Anything
else goes through :class:`~hubspot_sandbox.search_cache.SearchCache`.

Index lag: with a lag the search sees each deal as it was ``lag`` seconds ago: deals created
since are absent, deals changed since show their older version (never cached).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from hubspot_sandbox.matching import Key, Lookup, bounds, ordered_ids, union_window
from hubspot_sandbox.records import Deal
from hubspot_sandbox.search_cache import KeyIds, SearchCache
from hubspot_sandbox.search_parse import FAR, LASTMOD, Group, SearchRequest, Window
from hubspot_sandbox.store import DealStore


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    results: list[Deal]
    next_after: str | None


def run_search(
    request: SearchRequest,
    store: DealStore,
    cutoff_ms: int | None,
    cache: SearchCache | None = None,
) -> SearchPage:
    """Answer ``request``; ``cutoff_ms`` (index lag) makes the search see deals as of that time."""
    end = request.offset + request.limit
    with store.lock:
        lookup: Lookup = store.deal
        if cutoff_ms is not None:
            keys, lookup = _lagged_view(store, cutoff_ms, union_window(request))
            ids: Sequence[int] = ordered_ids(request, keys, lookup)
        else:
            ids = _index_slice(request, store) or _cached(request, store, cache)
        page = [lookup(deal_id) for deal_id in ids[request.offset : end]]
    total = len(ids)
    return SearchPage(total, page, str(end) if end < total else None)


def _cached(request: SearchRequest, store: DealStore, cache: SearchCache | None) -> Sequence[int]:
    if cache is None:
        return ordered_ids(request, store.modified_index(), store.deal)
    return cache.results(request, store)


def _index_slice(request: SearchRequest, store: DealStore) -> Sequence[int] | None:
    """Answer from an index alone when only a lastmod window filters and the order is indexed."""
    if len(request.groups) > 1 or request.query is not None or request.descending:
        return None
    group = request.groups[0] if request.groups else Group(Window(), ())
    if group.predicates:
        return None
    sort = request.sort.name if request.sort is not None else None
    if sort == LASTMOD:
        keys = store.modified_index()
        return KeyIds(keys, *bounds(keys, group.window))
    if sort in (None, "hs_object_id") and group.window.unbounded:
        return store.active_ids()
    return None


def _lagged_view(store: DealStore, cutoff_ms: int, window: Window) -> tuple[list[Key], Lookup]:
    """Keys inside ``window`` of the index as it was at ``cutoff_ms``, and a lookup of versions.

    Deals modified after the cutoff sit at the index's tail; their older versions (if they
    existed then) are merged back at their older positions. Only the window is copied.
    """
    index = store.modified_index()
    split = bisect.bisect_right(index, (cutoff_ms, FAR))
    older: dict[int, Deal] = {}
    for _, deal_id in index[split:]:
        past = store.deal(deal_id).as_of(cutoff_ms)
        if past is not None:
            older[deal_id] = past
    extra = sorted((deal.modified_ms, deal_id) for deal_id, deal in older.items())
    start, stop = bounds(index, window)
    extra_start, extra_stop = bounds(extra, window)
    keys = list(heapq.merge(index[start : min(stop, split)], extra[extra_start:extra_stop]))
    return keys, lambda deal_id: older.get(deal_id) or store.deal(deal_id)
