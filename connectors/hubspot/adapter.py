"""``HubSpotConnector``: the :class:`sync_worker.connectors.base.Connector` port over HubSpot's CRM
v3 API.

It composes a :class:`HubSpotClient` (HTTP, pacing, the one retry policy), the pure
:class:`SearchPaginator` (incremental pull) and pure JSON mappers; it holds no retry or paging
loop of its own beyond driving those.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sync_worker.connectors.base import (
    ChangePage,
    Pipeline,
    PropertyDef,
    ReadResult,
    RecordCreate,
    RecordFailure,
    RecordUpdate,
    Scope,
    User,
    WriteResult,
)
from sync_worker.connectors.hubspot.batch import (
    BatchOutcome,
    WriteInput,
    match_outcome,
    not_found_ids,
)
from sync_worker.connectors.hubspot.client import HubSpotClient
from sync_worker.connectors.hubspot.metadata import PortalMetadata
from sync_worker.connectors.hubspot.owners import list_owners
from sync_worker.connectors.hubspot.paginator import MODIFIED, SearchPaginator
from sync_worker.connectors.hubspot.records import (
    deal_from_json,
    pipeline_from_json,
    property_from_json,
    results_of,
)
from sync_worker.kernel.clock import Clock, to_epoch_ms
from sync_worker.kernel.errors import PermanentError, TransientError
from sync_worker.kernel.model import DealRecord

__all__ = ["BATCH_SIZE", "HISTORY_BATCH_SIZE", "HubSpotConnector"]

DEALS = "/crm/v3/objects/deals"
BATCH_SIZE = 100
HISTORY_BATCH_SIZE = 50

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _is_record_level(error: PermanentError) -> bool:
    """A whole-batch error that one bad input can cause: a validation error, or a unique-value
    conflict (HubSpot answers batch create that way without trace ids; it may for others)."""
    if error.status == 409:
        return True
    return error.status == 400 and error.category in ("VALIDATION_ERROR", "INVALID_OPTION")


class HubSpotConnector:
    """One HubSpot portal. See :mod:`sync_worker.connectors.base` for the behaviour of every
    method."""

    def __init__(
        self,
        client: HubSpotClient,
        *,
        name: str,
        overlap: timedelta,
        clock: Clock,
        page_size: int = 200,
        metadata_ttl: timedelta = timedelta(minutes=5),
        metadata: PortalMetadata | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._overlap = overlap
        self._clock = clock
        self._page_size = page_size
        shared = metadata or PortalMetadata(clock, metadata_ttl)
        self._users = shared.cached("users", self._load_users)
        self._archived = shared.cached("archived_owners", self._load_archived)
        self._pipelines = shared.cached("pipelines", self._load_pipelines)
        self._properties = shared.cached("properties", self._load_properties)

    def __repr__(self) -> str:
        return f"HubSpotConnector(name={self.name!r}, client={self._client!r})"

    # -- pull -----------------------------------------------------------------------------

    def changes(
        self, since: datetime | None, scope: Scope, properties: Sequence[str]
    ) -> Iterator[ChangePage]:
        started = self._clock.now()
        paginator = SearchPaginator(
            scope=scope,
            since_ms=to_epoch_ms(since) if since is not None else None,
            # Up to the millisecond the pull starts in, included: later writes are the next
            # pull's (ours above all), and nothing modified at or before it is left out.
            until_ms=to_epoch_ms(started),
            properties=properties,
            page_size=self._page_size,
        )
        settled = started
        while (request := paginator.next_request()) is not None:
            response = self._client.send("POST", f"{DEALS}/search", json=request, kind="search")
            if response.date is not None and settled is started:
                # The server's clock, when it is behind ours: a record indexed just before the
                # pull may carry a time up to that far ahead of what our clock says.
                settled = min(started, response.date)
            hits = paginator.accept(response.body)
            if hits:  # pages come in id order: only the end of the pull moves the cursor
                records = tuple(deal_from_json(h.raw, properties) for h in hits)
                yield ChangePage(records=records, cursor=None, total=paginator.total)
        # Everything modified before the pull started and indexed by then was read: the next
        # pull starts one lag allowance before that, so an idle pull settles to one search.
        yield ChangePage(records=(), cursor=settled - self._overlap, total=paginator.total)

    # -- read -----------------------------------------------------------------------------

    def read(
        self,
        ids: Sequence[str],
        properties: Sequence[str],
        *,
        id_property: str | None = None,
        with_history: bool = False,
    ) -> ReadResult:
        found: dict[str, DealRecord] = {}
        missing: list[str] = []
        wanted = list(dict.fromkeys(ids))
        size = HISTORY_BATCH_SIZE if with_history else BATCH_SIZE
        for chunk in _chunks(wanted, size):
            chunk_found, chunk_missing = self._read_chunk(
                chunk, properties, id_property, with_history
            )
            found.update(chunk_found)
            missing += chunk_missing
        return ReadResult(found=found, missing=tuple(missing))

    def _read_chunk(
        self,
        ids: Sequence[str],
        properties: Sequence[str],
        id_property: str | None,
        with_history: bool,
    ) -> tuple[dict[str, DealRecord], list[str]]:
        """Found records, and the ids HubSpot *said* are missing (``OBJECT_NOT_FOUND``) or that
        came back archived. An id answered neither way is never taken for deleted: a garbled
        or partial answer must not unlink anything, so it is a :class:`TransientError`."""
        requested = list(
            dict.fromkeys([*properties, MODIFIED, *([id_property] if id_property else [])])
        )
        body: dict[str, object] = {"inputs": [{"id": i} for i in ids], "properties": requested}
        if with_history:
            body["propertiesWithHistory"] = list(properties)
        if id_property:
            body["idProperty"] = id_property
        response = self._client.send("POST", f"{DEALS}/batch/read", json=body)
        asked = set(ids)
        found: dict[str, DealRecord] = {}
        archived: set[str] = set()
        for raw in results_of(response.body):
            record = deal_from_json(raw, properties)
            key = record.properties.get(id_property) if id_property else record.id
            if key in asked and record.archived:
                archived.add(str(key))
            elif key in asked:
                found[str(key)] = record
        missing = (not_found_ids(response.body) & asked) | archived
        unanswered = asked - set(found) - missing
        if unanswered:
            raise TransientError(
                f"POST {DEALS}/batch/read: HubSpot answered neither a record nor an error for "
                f"{len(unanswered)} of {len(asked)} ids (e.g. {sorted(unanswered)[0]})"
            )
        return found, sorted(missing)

    # -- write ----------------------------------------------------------------------------

    def update(self, updates: Sequence[RecordUpdate]) -> WriteResult:
        inputs = [
            _write_input(deal_id, {"id": deal_id, "properties": props})
            for deal_id, props in _merged((u.id, u.properties) for u in updates).items()
        ]
        return self._write(f"{DEALS}/batch/update", inputs, id_property=None)

    def upsert(self, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        inputs = [
            _write_input(key, {"id": key, "idProperty": id_property, "properties": props})
            for key, props in _merged((c.key, c.properties) for c in creates).items()
        ]
        return self._write(f"{DEALS}/batch/upsert", inputs, id_property=id_property)

    def create(self, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        # Each input carries an objectWriteTraceId, which opts batch create into per-input
        # (207) errors: a key already held fails only its own input.
        inputs = [
            _write_input(key, {"properties": {**props, id_property: key}})
            for key, props in _merged((c.key, c.properties) for c in creates).items()
        ]
        return self._write(f"{DEALS}/batch/create", inputs, id_property=id_property)

    def _write(
        self, path: str, inputs: Sequence[WriteInput], *, id_property: str | None
    ) -> WriteResult:
        written: dict[str, DealRecord] = {}
        failed: list[RecordFailure] = []
        for chunk in _chunks(inputs, BATCH_SIZE):
            chunk_written, chunk_failed = self._write_chunk(path, chunk, id_property)
            written.update(chunk_written)
            failed.extend(chunk_failed)
        return WriteResult(written=written, failed=tuple(failed))

    def _write_chunk(
        self, path: str, inputs: Sequence[WriteInput], id_property: str | None
    ) -> tuple[dict[str, DealRecord], list[RecordFailure]]:
        """One batch call. If HubSpot rejects the whole batch for what may be one input (its
        all-or-nothing behaviour is undocumented), bisect so only the bad inputs fail."""
        try:
            response = self._client.send("POST", path, json={"inputs": [i.body for i in inputs]})
        except PermanentError as error:
            if not _is_record_level(error):
                raise
            if len(inputs) == 1:
                return {}, [RecordFailure(inputs[0].key, str(error), properties=error.properties)]
            middle = len(inputs) // 2
            left = self._write_chunk(path, inputs[:middle], id_property)
            right = self._write_chunk(path, inputs[middle:], id_property)
            return left[0] | right[0], left[1] + right[1]
        outcome = match_outcome(response.body, inputs, id_property=id_property)
        if not outcome.unmatched:
            return outcome.written, outcome.failed
        return self._read_back(outcome, id_property)

    def _read_back(
        self, outcome: BatchOutcome, id_property: str | None
    ) -> tuple[dict[str, DealRecord], list[RecordFailure]]:
        """Fetch inputs HubSpot acknowledged without a matchable result (one extra call)."""
        found = self.read(outcome.unmatched, [], id_property=id_property).found
        lost = [
            RecordFailure(k, "HubSpot returned no result for this input")
            for k in outcome.unmatched
            if k not in found
        ]
        return outcome.written | dict(found), outcome.failed + lost

    # -- metadata (cached) ----------------------------------------------------------------

    def users(self) -> tuple[User, ...]:
        return self._users.get()

    def owners(self, *, refresh: bool = False) -> tuple[User, ...]:
        # The caller refreshes at most once per pair and cycle, and only for a changed deal
        # naming an id the list lacks; concurrent callers share one reload (the cache's lock).
        max_age = 0.0 if refresh else None
        return self._users.get(max_age=max_age) + self._archived.get(max_age=max_age)

    def _load_users(self) -> tuple[User, ...]:
        return list_owners(self._client, archived=False)

    def _load_archived(self) -> tuple[User, ...]:
        return list_owners(self._client, archived=True)

    def pipelines(self) -> tuple[Pipeline, ...]:
        return self._pipelines.get()

    def _load_pipelines(self) -> tuple[Pipeline, ...]:
        body = self._client.send("GET", "/crm/v3/pipelines/deals").body
        return tuple(pipeline_from_json(raw) for raw in results_of(body) if not raw.get("archived"))

    def property_definitions(self) -> Mapping[str, PropertyDef]:
        return self._properties.get()

    def _load_properties(self) -> Mapping[str, PropertyDef]:
        body = self._client.send("GET", "/crm/v3/properties/deals").body
        defs = (property_from_json(raw) for raw in results_of(body))
        return {d.name: d for d in defs}

    def api_calls(self) -> int:
        return self._client.api_calls()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def _merged(items: Iterable[tuple[str, Mapping[str, str]]]) -> dict[str, dict[str, str]]:
    """One input per id (HubSpot rejects a batch naming an id twice); later values win."""
    merged: dict[str, dict[str, str]] = {}
    for key, properties in items:
        merged.setdefault(key, {}).update(properties)
    return merged


def _write_input(key: str, body: dict[str, object]) -> WriteInput:
    """A batch input with its own ``objectWriteTraceId``, which opts into 207 partial results."""
    trace = uuid.uuid4().hex[:16]
    return WriteInput(key, trace, {**body, "objectWriteTraceId": trace})
