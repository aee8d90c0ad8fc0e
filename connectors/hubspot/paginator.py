"""The search requests of an incremental pull that cannot miss a change. Pure: no I/O.

The loop is ``while (req := p.next_request()) is not None: p.accept(send(req))``.

A pull reads the window ``since <= hs_lastmodifieddate <= until``, where ``until`` is the
pull's start, and pages through it **by id**: sorted by ``hs_object_id``, each page asking for
ids greater than the last one read. Why that cannot miss a record:

* **The window only loses records, never gains any.** A record modified while the pull runs
  (the worker's own writes above all) gets a time after ``until`` and leaves it; the next pull
  reads it. So the ids still to read are exactly the window's ids above the last one read.
* **No offsets.** HubSpot refuses to page past 10,000 results with ``after`` and offsets shift
  when a record leaves; a key has neither problem, and ties in time do not matter.
* **Each page reads 200 new records**, so a pull of N records costs ``ceil(N / 200)`` searches
  (and one when nothing changed).
* **Index lag** is the caller's to cover: it resumes a later pull an allowance before this
  pull's start (see the adapter). Pages are not in time order, so only the end of a pull moves
  the cursor.
* **Loops.** A request identical to one already sent raises instead of looping forever.

Each filter group gets two filters of the pull's own (HubSpot allows 6 a group), so a scope
group has at most 4 (:mod:`sync_worker.connectors.hubspot.search_request` holds HubSpot's limits
and checks them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sync_worker.connectors.hubspot.search_request import (
    MAX_GROUPS,
    MAX_SCOPE_FILTERS,
    MAX_SEARCH_BODY_BYTES,
    MAX_TOTAL_FILTERS,
    MODIFIED,
    OBJECT_ID,
    filter_json,
    largest_request_bytes,
    query_problems,
    search_body,
    window_filters,
)
from sync_worker.kernel.clock import from_epoch_ms, parse_datetime, to_epoch_ms
from sync_worker.kernel.errors import ConfigError, PermanentError
from sync_worker.kernel.filters import Scope

__all__ = [
    "MAX_GROUPS",
    "MAX_SCOPE_FILTERS",
    "MAX_SEARCH_BODY_BYTES",
    "MAX_TOTAL_FILTERS",
    "MODIFIED",
    "OBJECT_ID",
    "SearchHit",
    "SearchPaginator",
    "filter_json",
    "largest_request_bytes",
    "query_problems",
]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: its id, modification time (epoch ms) and raw JSON."""

    id: str
    modified_ms: int
    raw: Mapping[str, object]

    @property
    def modified_at(self) -> datetime:
        return from_epoch_ms(self.modified_ms)


def _hits(body: Mapping[str, object]) -> list[SearchHit]:
    results = body.get("results")
    hits = []
    for raw in results if isinstance(results, list) else []:
        props = raw.get("properties") or {}
        moment = parse_datetime(props.get(MODIFIED)) or parse_datetime(raw.get("updatedAt"))
        if moment is None:
            raise PermanentError(f"search result {raw.get('id')!r} has no {MODIFIED}")
        hits.append(SearchHit(str(raw["id"]), to_epoch_ms(moment), raw))
    return hits


def _has_next(body: Mapping[str, object]) -> bool:
    paging = body.get("paging")
    return isinstance(paging, dict) and isinstance(paging.get("next"), dict)


class SearchPaginator:
    """Plans the search requests of one pull and filters their results (see module docs)."""

    def __init__(
        self,
        *,
        scope: Scope,
        since_ms: int | None,
        properties: Sequence[str],
        until_ms: int | None = None,
        page_size: int = 200,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        problems = query_problems(scope, properties, page_size=page_size)
        if problems:
            raise ConfigError(problems)
        self._groups = [[filter_json(f) for f in group] for group in scope.groups]
        self._properties = list(properties)
        self._page_size = page_size
        self._since = since_ms
        self._until = until_ms
        self._after: str | None = None
        self._sent: set[bytes] = set()
        self._done = False
        self.total: int | None = None

    def next_request(self) -> dict[str, object] | None:
        """The next search body, or ``None`` when the pull is complete."""
        if self._done:
            return None
        own = window_filters(self._since, self._until, self._after)
        body = search_body(self._groups, own, self._properties, self._page_size)
        key = hashlib.blake2b(json.dumps(body, sort_keys=True).encode(), digest_size=16)
        if key.digest() in self._sent:
            raise PermanentError(f"search pagination would repeat a request: {body}")
        self._sent.add(key.digest())
        return body

    def accept(self, body: Mapping[str, object]) -> list[SearchHit]:
        """Take the response to the last request; return its hits above the last id read, in
        id order. An empty list does not mean the pull is over: ask :meth:`next_request`."""
        total = body.get("total")
        if self.total is None and isinstance(total, int):
            self.total = total
        hits = sorted(_hits(body), key=lambda h: _id_key(h.id))
        if self._after is not None:
            hits = [h for h in hits if _id_key(h.id) > _id_key(self._after)]
        if not hits or not _has_next(body):
            self._done = True
        if hits:
            self._after = hits[-1].id
        return hits


def _id_key(deal_id: str) -> tuple[int, str]:
    """HubSpot ids are numbers: compare them as numbers."""
    return (int(deal_id), "") if deal_id.isdigit() else (0, deal_id)
