"""Search windows for an incremental pull that cannot miss a change. Pure: no I/O.

The loop is ``while (req := p.next_request()) is not None: p.accept(send(req))``.

How it avoids every known way to miss a record:

* **Range windows.** ``hs_lastmodifieddate GTE floor`` sorted ascending, paged with ``after``.
  HubSpot refuses to page past 10,000 results, so before ``after + limit`` would pass the cap the
  window restarts at ``GTE <last timestamp seen>``; ids already seen at that timestamp are
  dropped (only those are remembered, so memory stays bounded by the cap).
* **Records modified during the pull.** ``after`` is an offset: when an already-read record is
  modified it moves to the end and everything behind it shifts one place, so plain offset paging
  silently skips a record. Each page therefore overlaps the previous one by one record (``after``
  = offset - 1); if the first result is not the record expected there, the page is discarded and
  the window restarts at the last timestamp seen.
* **Ties.** When a full page holds a single timestamp ``t`` (up to more than 10,000 records
  modified in one millisecond), the paginator switches to a keyset query
  ``hs_lastmodifieddate EQ t AND hs_object_id GT <last id>`` sorted by id (no offsets, so no cap
  and no shifting), then continues with ``hs_lastmodifieddate GT t``.
* **Loops.** A request identical to one already sent raises instead of looping forever.

A scope is filter groups (ORed); the window or tiebreak filters are added to every group
(:mod:`sync_worker.connectors.hubspot.search_request` holds HubSpot's limits and checks them).
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
    SEARCH_CAP,
    filter_groups,
    filter_json,
    largest_request_bytes,
    query_problems,
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
    "SEARCH_CAP",
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
        page_size: int = 200,
        cap: int = SEARCH_CAP,
    ) -> None:
        if page_size < 2:
            raise ValueError("page_size must be at least 2: pages overlap by one record")
        problems = query_problems(scope, properties, page_size=page_size)
        if problems:
            raise ConfigError(problems)
        self._groups = [[filter_json(f) for f in group] for group in scope.groups]
        self._properties = list(dict.fromkeys([*properties, MODIFIED]))
        self._page_size = page_size
        self._cap = cap
        self._floor: int | None = since_ms
        self._strict = False
        self._offset = 0
        self._anchor: str | None = None
        self._tie: int | None = None
        self._tie_after: str | None = None
        self._boundary: int | None = None
        self._boundary_ids: set[str] = set()
        self._sent: set[bytes] = set()
        self._done = False
        self.total: int | None = None

    @property
    def remembered_ids(self) -> int:
        """How many ids are kept for de-duplication (at most about twice the cap)."""
        return len(self._boundary_ids)

    def next_request(self) -> dict[str, object] | None:
        """The next search body, or ``None`` when the pull is complete."""
        if self._done:
            return None
        body = self._tie_body() if self._tie is not None else self._range_body()
        key = hashlib.blake2b(json.dumps(body, sort_keys=True).encode(), digest_size=16)
        if key.digest() in self._sent:
            raise PermanentError(f"search pagination would repeat a request: {body}")
        self._sent.add(key.digest())
        return body

    def accept(self, body: Mapping[str, object]) -> list[SearchHit]:
        """Take the response to the last request; return the hits not yielded before, in
        order. An empty list does not mean the pull is over: ask :meth:`next_request`."""
        total = body.get("total")
        if self.total is None and isinstance(total, int):
            self.total = total
        hits = _hits(body)
        if self._tie is not None:
            return self._accept_tie(hits, _has_next(body))
        return self._accept_range(hits, _has_next(body))

    # -- request bodies -------------------------------------------------------------------

    def _body(self, filters: list[dict[str, object]], sort: str) -> dict[str, object]:
        return {
            "filterGroups": filter_groups(self._groups, filters),
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": self._properties,
            "limit": self._page_size,
        }

    def _range_body(self) -> dict[str, object]:
        filters: list[dict[str, object]] = []
        if self._floor is not None:
            operator = "GT" if self._strict else "GTE"
            filters.append(
                {"propertyName": MODIFIED, "operator": operator, "value": str(self._floor)}
            )
        body = self._body(filters, MODIFIED)
        if self._offset > 0:
            body["after"] = str(self._offset - 1)
        return body

    def _tie_body(self) -> dict[str, object]:
        filters: list[dict[str, object]] = [
            {"propertyName": MODIFIED, "operator": "EQ", "value": str(self._tie)}
        ]
        if self._tie_after is not None:
            filters.append({"propertyName": OBJECT_ID, "operator": "GT", "value": self._tie_after})
        return self._body(filters, OBJECT_ID)

    # -- range windows --------------------------------------------------------------------

    def _accept_range(self, hits: list[SearchHit], has_next: bool) -> list[SearchHit]:
        overlapping = self._offset > 0
        if overlapping and (not hits or hits[0].id != self._anchor):
            self._restart_window()  # the result set shifted under us: this page may skip one
            return []
        position = self._offset - 1 if overlapping else 0
        fresh = [hit for hit in hits[1 if overlapping else 0 :] if self._remember(hit)]
        if not has_next or not hits:
            self._done = True
        elif len(hits) > 1 and hits[0].modified_ms == hits[-1].modified_ms:
            self._enter_tie(hits[0].modified_ms)
        elif position + len(hits) - 1 + self._page_size > self._cap:
            self._restart_window()
        else:
            self._offset = position + len(hits)
            self._anchor = hits[-1].id
        return fresh

    def _remember(self, hit: SearchHit) -> bool:
        """Track the ids seen at the newest timestamp; ``False`` for one seen already."""
        if hit.modified_ms == self._boundary:
            if hit.id in self._boundary_ids:
                return False
            self._boundary_ids.add(hit.id)
        elif self._boundary is None or hit.modified_ms > self._boundary:
            self._boundary = hit.modified_ms
            self._boundary_ids = {hit.id}
        return True

    def _restart_window(self) -> None:
        self._offset, self._anchor = 0, None
        if self._boundary is None:
            return
        if self._boundary == self._floor and not self._strict:
            self._enter_tie(self._boundary)
            return
        self._floor, self._strict = self._boundary, False

    # -- ties -----------------------------------------------------------------------------

    def _enter_tie(self, moment: int) -> None:
        self._offset, self._anchor = 0, None
        self._tie, self._tie_after = moment, None
        if self._boundary != moment:
            self._boundary, self._boundary_ids = moment, set()

    def _accept_tie(self, hits: list[SearchHit], has_next: bool) -> list[SearchHit]:
        fresh = [
            h for h in hits if not (h.modified_ms == self._boundary and h.id in self._boundary_ids)
        ]
        if has_next and hits:
            self._tie_after = hits[-1].id
            return fresh
        # Every record at the tie is read: continue strictly after it; nothing left to dedupe.
        self._floor, self._strict = self._tie, True
        self._tie = self._tie_after = None
        self._boundary_ids = set()
        return fresh
