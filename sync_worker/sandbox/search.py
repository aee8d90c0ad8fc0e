"""Run a parsed search: match, order and page without sorting the portal per request.

Candidates come from the store's ``(hs_lastmodifieddate, id)`` index, narrowed by bisect to the
filter groups' ``hs_lastmodifieddate`` windows (or from the id index when nothing narrows and
the order is by id). The usual incremental-sync query (``hs_lastmodifieddate GTE cursor``,
sorted ascending) is answered from an index slice. Other queries scan their candidates once;
the ordered result ids are cached per (query, store version), so paging through a stable
result set costs one page per request.

Ordering assumptions (HubSpot leaves them unspecified): ties are broken by object id ascending;
without a sort the order is object id ascending (creation order); deals without a value for the
sort property come last. With an index lag the search sees each deal as it was ``lag`` seconds
ago: deals created since are absent, deals changed since show their older version.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sync_worker.sandbox.filters import Predicate, numeric_getter
from sync_worker.sandbox.records import Deal
from sync_worker.sandbox.search_parse import FAR, LASTMOD, Group, SearchRequest, Window
from sync_worker.sandbox.store import DealStore

Lookup = Callable[[int], Deal]
CACHE_SIZE = 8


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    results: list[Deal]
    next_after: str | None


class SearchCache:
    """Ordered result ids of recent queries, valid while the store version is unchanged."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, int], list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> list[int] | None:
        with self._lock:
            ids = self._entries.get(key)
            if ids is not None:
                self._entries.move_to_end(key)
            return ids

    def put(self, key: tuple[str, int], ids: list[int]) -> None:
        with self._lock:
            self._entries[key] = ids
            while len(self._entries) > CACHE_SIZE:
                self._entries.popitem(last=False)


def run_search(
    request: SearchRequest,
    store: DealStore,
    cutoff_ms: int | None,
    cache: SearchCache | None = None,
) -> SearchPage:
    """Answer ``request``; ``cutoff_ms`` (index lag) makes the search see deals as of that time."""
    end = request.offset + request.limit
    with store.lock:
        if cutoff_ms is None:
            total, ids = _current(request, store, cache)
            lookup: Lookup = store.deal
        else:
            keys, lookup = _lagged_view(store, cutoff_ms)
            ids = _ordered_ids(request, keys, lookup)
            total = len(ids)
        page = [lookup(deal_id) for deal_id in ids[request.offset : end]]
    return SearchPage(total, page, str(end) if end < total else None)


def _current(
    request: SearchRequest, store: DealStore, cache: SearchCache | None
) -> tuple[int, Sequence[int]]:
    fast = _index_slice(request, store)
    if fast is not None:
        return fast
    key = (request.fingerprint, store.version)
    ids = cache.get(key) if cache is not None else None
    if ids is None:
        ids = _ordered_ids(request, store.modified_index(), store.deal)
        if cache is not None:
            cache.put(key, ids)
    return len(ids), ids


class _Slice(Sequence[int]):
    """Ids of ``keys[start:stop]`` without copying the index."""

    def __init__(self, keys: Sequence[tuple[int, int]], start: int, stop: int) -> None:
        self.keys, self.start, self.stop = keys, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: int | slice) -> list[int] | int:  # type: ignore[override]
        if isinstance(index, slice):
            low, high, _ = index.indices(len(self))
            return [k[1] for k in self.keys[self.start + low : self.start + high]]
        return self.keys[self.start + index][1]


def _index_slice(request: SearchRequest, store: DealStore) -> tuple[int, Sequence[int]] | None:
    """Answer from an index alone when only a lastmod window filters and the order is indexed."""
    if len(request.groups) > 1 or request.query is not None or request.descending:
        return None
    group = request.groups[0] if request.groups else Group(Window(), ())
    if group.predicates:
        return None
    sort = request.sort.name if request.sort is not None else None
    if sort == LASTMOD:
        keys = store.modified_index()
        start, stop = _bounds(keys, group.window)
        return stop - start, _Slice(keys, start, stop)
    if sort in (None, "hs_object_id") and group.window.unbounded:
        ids = store.active_ids()
        return len(ids), ids
    return None


def _bounds(keys: Sequence[tuple[int, int]], window: Window) -> tuple[int, int]:
    start = bisect.bisect_left(keys, (window.low, -1))
    stop = bisect.bisect_right(keys, (window.high, FAR))
    return start, stop


def _lagged_view(store: DealStore, cutoff_ms: int) -> tuple[list[tuple[int, int]], Lookup]:
    index = store.modified_index()
    split = bisect.bisect_right(index, (cutoff_ms, FAR))
    older: dict[int, Deal] = {}
    for _, deal_id in index[split:]:
        past = store.deal(deal_id).as_of(cutoff_ms)
        if past is not None:
            older[deal_id] = past
    keys = sorted([*index[:split], *((d.modified_ms, i) for i, d in older.items())])
    return keys, lambda deal_id: older.get(deal_id) or store.deal(deal_id)


def _ordered_ids(
    request: SearchRequest, keys: Sequence[tuple[int, int]], lookup: Lookup
) -> list[int]:
    groups = request.groups or (Group(Window(), ()),)
    extra: tuple[Predicate, ...] = ()
    if request.query is not None:
        text = request.query
        extra = (lambda deal: text in (deal.values.get("dealname") or "").lower(),)
    if len(groups) == 1:
        start, stop = _bounds(keys, groups[0].window)
        matches = _scan(keys[start:stop], lookup, (*extra, *groups[0].predicates))
    else:
        union = Window(min(g.window.low for g in groups), max(g.window.high for g in groups))
        start, stop = _bounds(keys, union)
        checks = [_group_check(g, extra) for g in groups]
        matches = _scan(keys[start:stop], lookup, (lambda deal: any(c(deal) for c in checks),))
    _order(request, matches)
    return [deal.id for deal in matches]


def _scan(
    keys: Sequence[tuple[int, int]], lookup: Lookup, predicates: Sequence[Predicate]
) -> list[Deal]:
    """Deals of ``keys`` (already inside the window) passing every predicate, in key order."""
    if not predicates:
        return [lookup(deal_id) for _, deal_id in keys]
    if len(predicates) == 1:
        only = predicates[0]
        return [deal for _, deal_id in keys if only(deal := lookup(deal_id))]
    return [deal for _, deal_id in keys if all(p(deal := lookup(deal_id)) for p in predicates)]


def _group_check(group: Group, extra: tuple[Predicate, ...]) -> Predicate:
    low, high = group.window.low, group.window.high
    predicates = (*extra, *group.predicates)
    if not predicates:
        return lambda deal: low <= deal.modified_ms <= high
    return lambda deal: low <= deal.modified_ms <= high and all(p(deal) for p in predicates)


def _order(request: SearchRequest, matches: list[Deal]) -> None:
    """Sort in place; candidates arrive ordered by (hs_lastmodifieddate, id)."""
    name = request.sort.name if request.sort is not None else None
    if name == LASTMOD:
        if request.descending:
            matches.sort(key=lambda deal: deal.modified_ms, reverse=True)
        return
    matches.sort(key=lambda deal: deal.id)
    if request.sort is None or name == "hs_object_id":
        if request.descending:
            matches.reverse()
        return
    prop_name = request.sort.name
    get = numeric_getter(request.sort) or (lambda deal: (deal.value(prop_name) or "").lower())
    present = [d for d in matches if d.value(prop_name) is not None]
    missing = [d for d in matches if d.value(prop_name) is None]
    present.sort(key=get, reverse=request.descending)
    matches[:] = present + missing
