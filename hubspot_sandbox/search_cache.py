"""Recent search results per portal, kept up to date instead of recomputed.

A result list is cached per query (filters, sort, text; not paging). For queries ordered by
``hs_lastmodifieddate`` ascending (incremental sync) the cached ``(modified, id)`` keys are
patched with the deals changed since, from the store's change log, so paging through a large
result set while deals change costs O(page + changes) rather than a scan per page. Other orders
are recomputed when anything changed.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from hubspot_sandbox.filters import Predicate
from hubspot_sandbox.matching import Key, matcher, matching_keys, ordered_ids
from hubspot_sandbox.search_parse import LASTMOD, SearchRequest
from hubspot_sandbox.store import DealStore

CACHE_SIZE = 8


@dataclass
class _Entry:
    version: int
    keys: list[Key] | None
    """Sorted matching keys (incremental entries) ..."""
    ids: list[int] | None
    """... or ordered ids (entries recomputed on change)."""
    matches: Predicate
    modified: dict[int, int]


class KeyIds(Sequence[int]):
    """The ids of a list of ``(modified, id)`` keys, sliced without copying the whole list."""

    def __init__(self, keys: Sequence[Key], start: int = 0, stop: int | None = None) -> None:
        self.keys, self.start = keys, start
        self.stop = len(keys) if stop is None else stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: int | slice) -> list[int] | int:  # type: ignore[override]
        if isinstance(index, slice):
            low, high, _ = index.indices(len(self))
            return [key[1] for key in self.keys[self.start + low : self.start + high]]
        return self.keys[self.start + index][1]


class SearchCache:
    """Per-portal cache of result lists; thread-safe (callers also hold the store lock)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def results(self, request: SearchRequest, store: DealStore) -> Sequence[int]:
        """Ordered ids of the deals matching ``request`` now."""
        with self._lock:
            entry = self._entries.get(request.fingerprint)
            if entry is None or not _refresh(entry, store):
                entry = _compute(request, store)
                self._entries[request.fingerprint] = entry
            self._entries.move_to_end(request.fingerprint)
            while len(self._entries) > CACHE_SIZE:
                self._entries.popitem(last=False)
        return KeyIds(entry.keys) if entry.keys is not None else entry.ids or []


def _incremental(request: SearchRequest) -> bool:
    return request.sort is not None and request.sort.name == LASTMOD and not request.descending


def _compute(request: SearchRequest, store: DealStore) -> _Entry:
    keys = store.modified_index()
    if _incremental(request):
        found = matching_keys(request, keys, store.deal)
        modified = {deal_id: mod for mod, deal_id in found}
        return _Entry(store.version, found, None, matcher(request), modified)
    ids = ordered_ids(request, keys, store.deal)
    return _Entry(store.version, None, ids, matcher(request), {})


def _refresh(entry: _Entry, store: DealStore) -> bool:
    """Bring ``entry`` up to the store's version; False if it must be recomputed."""
    if entry.version == store.version:
        return True
    changed = store.changed_since(entry.version) if entry.keys is not None else None
    if changed is None or entry.keys is None:
        return False
    for deal_id in dict.fromkeys(changed):
        _patch(entry, entry.keys, store, deal_id)
    entry.version = store.version
    return True


def _patch(entry: _Entry, keys: list[Key], store: DealStore, deal_id: int) -> None:
    old = entry.modified.pop(deal_id, None)
    if old is not None:
        del keys[bisect.bisect_left(keys, (old, deal_id))]
    deal = store.deal(deal_id)
    if entry.matches(deal):
        bisect.insort(keys, (deal.modified_ms, deal_id))
        entry.modified[deal_id] = deal.modified_ms
