"""Search windows for an incremental pull that cannot miss a change. Pure: no I/O.

The loop is ``while (req := p.next_request()) is not None: p.accept(send(req))``.

A pull reads the window ``since <= hs_lastmodifieddate < until``: ``until`` is the pull's start,
so records modified while it runs (the worker's own writes included) are left to the next pull
and never extend or restart this one. How it avoids every known way to miss a record:

* **Keys, not offsets.** Each page asks for ``hs_lastmodifieddate GTE <last timestamp seen>``
  sorted ascending, with no ``after``: a record modified meanwhile leaves the window instead of
  shifting every offset behind it, and HubSpot's 10,000-result cap on ``after`` never applies.
  The records already yielded at that timestamp come back once more and are dropped (only the
  ids at the newest timestamp are remembered).
* **Ties.** When a page is mostly one timestamp ``t`` (up to more than 10,000 records modified
  in one millisecond), the paginator switches to ``hs_lastmodifieddate EQ t AND hs_object_id GT
  <last id>`` sorted by id, then continues with ``hs_lastmodifieddate GT t``.
* **Index lag** is the caller's to cover: it resumes a later pull from a cursor an allowance
  before what it has seen (see the adapter).
* **Loops.** A request identical to one already sent raises instead of looping forever.

Each filter group gets two filters of the pull's own (HubSpot allows 6 a group), so a scope
group has at most 4. Several scope groups are ORed, as HubSpot does with filter groups.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sync_worker.kernel.clock import from_epoch_ms, parse_datetime, to_epoch_ms
from sync_worker.kernel.errors import ConfigError, PermanentError
from sync_worker.kernel.filters import Filter

MAX_SCOPE_FILTERS = 4
"""A scope has at most this many filters: HubSpot search allows 6 per group and the
incremental pull adds 2 of its own."""

__all__ = [
    "MAX_SCOPE_FILTERS",
    "MAX_SEARCH_BODY_BYTES",
    "MODIFIED",
    "OBJECT_ID",
    "SearchHit",
    "SearchPaginator",
    "filter_json",
    "largest_request_bytes",
    "query_problems",
]

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


def query_problems(
    scope: Sequence[Filter], properties: Sequence[str], *, page_size: int = 200
) -> list[str]:
    """Why HubSpot search would refuse a pull of ``scope`` returning ``properties``, found
    without sending anything: too many filters, or a body over HubSpot's 3,000 characters
    (long property lists or IN lists). Empty when every request of the pull fits."""
    if len(scope) > MAX_SCOPE_FILTERS:
        too_many = (
            f"scope has {len(scope)} filters; HubSpot search allows at most "
            f"{MAX_SCOPE_FILTERS} next to the connector's own"
        )
        return [too_many]
    size = largest_request_bytes(scope, properties, page_size=page_size)
    if size <= MAX_SEARCH_BODY_BYTES:
        return []
    too_big = (
        f"a search request would be {size} bytes; HubSpot refuses bodies over "
        f"{MAX_SEARCH_BODY_BYTES} (fewer mapped properties or shorter IN lists in the scope)"
    )
    return [too_big]


def largest_request_bytes(
    scope: Sequence[Filter], properties: Sequence[str], *, page_size: int = 200
) -> int:
    """The size of the largest search body a pull sends, encoded as httpx sends it: a range
    page or an id tiebreak, each with its widest values."""
    shape = _Shape([filter_json(f) for f in scope], _returned(properties), page_size)
    widest = 10**13 - 1
    bodies = (
        shape.body(_range_filters(widest, strict=False, until=widest), MODIFIED),
        shape.body(_tie_filters(widest, "9" * 20), OBJECT_ID),
    )
    return max(
        len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()) for body in bodies
    )


def _returned(properties: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*properties, MODIFIED]))


def _range_filters(
    floor: int | None, *, strict: bool, until: int | None
) -> list[dict[str, object]]:
    filters: list[dict[str, object]] = []
    if floor is not None:
        operator = "GT" if strict else "GTE"
        filters.append({"propertyName": MODIFIED, "operator": operator, "value": str(floor)})
    if until is not None:
        filters.append({"propertyName": MODIFIED, "operator": "LT", "value": str(until)})
    return filters


def _tie_filters(moment: int, after: str | None) -> list[dict[str, object]]:
    filters: list[dict[str, object]] = [
        {"propertyName": MODIFIED, "operator": "EQ", "value": str(moment)}
    ]
    if after is not None:
        filters.append({"propertyName": OBJECT_ID, "operator": "GT", "value": after})
    return filters


@dataclass(frozen=True, slots=True)
class _Shape:
    """What every request of one pull shares."""

    scope: list[dict[str, object]]
    properties: list[str]
    page_size: int

    def body(self, filters: list[dict[str, object]], sort: str) -> dict[str, object]:
        return {
            # An empty filter group is omitted: whether HubSpot accepts one is undocumented.
            "filterGroups": [{"filters": self.scope + filters}] if self.scope or filters else [],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": self.properties,
            "limit": self.page_size,
        }


class SearchPaginator:
    """Plans the search requests of one pull and filters their results (see module docs)."""

    def __init__(
        self,
        *,
        scope: Sequence[Filter],
        since_ms: int | None,
        properties: Sequence[str],
        until_ms: int | None = None,
        page_size: int = 200,
    ) -> None:
        if page_size < 2:
            raise ValueError("page_size must be at least 2")
        problems = query_problems(scope, properties, page_size=page_size)
        if problems:
            raise ConfigError(problems)
        self._shape = _Shape([filter_json(f) for f in scope], _returned(properties), page_size)
        self._page_size = page_size
        self._until = until_ms
        self._floor: int | None = since_ms
        self._strict = False
        self._tie: int | None = None
        self._tie_after: str | None = None
        self._boundary: int | None = None
        self._boundary_ids: set[str] = set()
        self._sent: set[bytes] = set()
        self._done = False
        self.total: int | None = None

    @property
    def remembered_ids(self) -> int:
        """How many ids are kept for de-duplication (those at the newest timestamp)."""
        return len(self._boundary_ids)

    @property
    def done(self) -> bool:
        return self._done

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

    def _range_body(self) -> dict[str, object]:
        filters = _range_filters(self._floor, strict=self._strict, until=self._until)
        return self._shape.body(filters, MODIFIED)

    def _tie_body(self) -> dict[str, object]:
        assert self._tie is not None  # noqa: S101 - only called in a tie
        return self._shape.body(_tie_filters(self._tie, self._tie_after), OBJECT_ID)

    # -- range windows --------------------------------------------------------------------

    def _accept_range(self, hits: list[SearchHit], has_next: bool) -> list[SearchHit]:
        fresh = [hit for hit in hits if self._remember(hit)]
        if not has_next or not hits:
            self._done = True
            return fresh
        last = hits[-1].modified_ms
        at_last = sum(1 for hit in hits if hit.modified_ms == last)
        if 2 * at_last >= len(hits) or not fresh:
            # Mostly one timestamp (or nothing new): paging by it again would return the
            # same records; read that timestamp by id instead.
            self._enter_tie(last)
        else:
            self._floor, self._strict = last, False
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

    # -- ties -----------------------------------------------------------------------------

    def _enter_tie(self, moment: int) -> None:
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
