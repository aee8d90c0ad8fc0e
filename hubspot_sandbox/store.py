"""The deals of one portal: validated writes, unique values, and the indexes search pages on.

Thread-safe: every public method takes the store's lock. Two sorted indexes are kept on write so
no request sorts the portal: active ids (list paging) and ``(hs_lastmodifieddate, id)`` (the
incremental-sync search). Writes in the same millisecond share a timestamp, as in HubSpot.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hubspot_sandbox.changes import ChangeKind, Observer, StoreChange
from hubspot_sandbox.errors import (
    PropertyProblem,
    SandboxApiError,
    bad_request,
    object_not_found,
    property_errors_body,
)
from hubspot_sandbox.properties import PropertyBook, iso_ms
from hubspot_sandbox.records import REGISTERED_KEY, Deal, Write
from hubspot_sandbox.unique import UniqueValues

API = "API"
CHANGE_LOG = 20_000
"""How many recent changes a search cache can catch up with instead of recomputing."""


class DealStore:
    """In-memory deals of one portal. ``now_ms`` is the portal clock in epoch milliseconds."""

    def __init__(self, book: PropertyBook, now_ms: Callable[[], int], id_base: int) -> None:
        self.book = book
        self.now_ms = now_ms
        self.lock = threading.RLock()
        self._deals: dict[int, Deal] = {}
        self.deal: Callable[[int], Deal] = self._deals.__getitem__
        """The deal with this (existing) id, archived or not."""
        self._active_ids: list[int] = []
        self._by_modified: list[tuple[int, int]] = []
        self._unique = UniqueValues(book.unique)
        self._next_id = id_base + 1
        self.version = 0
        """Bumped on every create, write and archive (one change = one version)."""
        self._changes: deque[int] = deque(maxlen=CHANGE_LOG)
        self.observer: Observer | None = None
        """Told of every change, under the lock (the webhook deliveries; must not wait)."""

    # -- reads -----------------------------------------------------------------------------

    def get(
        self, key: str, *, id_property: str | None = None, archived: bool = False
    ) -> Deal | None:
        """The deal whose id (or unique ``id_property`` value) is ``key``; None if absent."""
        with self.lock:
            deal_id = self._resolve(key, id_property)
            deal = self._deals.get(deal_id) if deal_id is not None else None
            if deal is None or deal.archived != archived:
                return None
            return deal

    def require(self, key: str, *, id_property: str | None = None) -> Deal:
        deal = self.get(key, id_property=id_property)
        if deal is None:
            raise object_not_found(key)
        return deal

    def page_ids(
        self, after: int, limit: int, *, archived: bool = False
    ) -> tuple[list[Deal], int | None]:
        """Up to ``limit`` deals with id >= ``after`` in id order, and the next ``after``."""
        with self.lock:
            if archived:
                ids = sorted(d.id for d in self._deals.values() if d.archived)
            else:
                ids = self._active_ids
            start = bisect.bisect_left(ids, after)
            chosen = ids[start : start + limit + 1]
            deals = [self._deals[i] for i in chosen[:limit]]
            return deals, (chosen[limit] if len(chosen) > limit else None)

    def modified_index(self) -> list[tuple[int, int]]:
        """The live ``(hs_lastmodifieddate ms, id)`` index; read it under :attr:`lock`."""
        return self._by_modified

    def active_ids(self) -> list[int]:
        """The live sorted list of active deal ids; read it under :attr:`lock`."""
        return self._active_ids

    def active(self) -> list[Deal]:
        with self.lock:
            return [self._deals[i] for i in self._active_ids]

    # -- writes ----------------------------------------------------------------------------

    def create(
        self,
        raw: Mapping[str, Any],
        *,
        source: str = API,
        source_id: str | None = None,
        at_ms: int | None = None,
        validated: Mapping[str, str] | None = None,
    ) -> Deal:
        """Create a deal. ``dealname`` is required; through the API ``dealstage`` too (HubSpot's
        object guide lists both as required; its deals guide lets only the pipeline default).
        ``pipeline`` defaults to the first one; a user's or an import's deal without a stage
        lands in its pipeline's first stage, where the UI puts it."""
        with self.lock:
            if validated is not None:
                changes = dict(validated)
            else:
                changes = self._validate_new(raw, stage_required=source == API)
            self._unique.check(changes, None)
            at = self.now_ms() if at_ms is None else at_ms
            changes.setdefault("createdate", iso_ms(at))
            deal_id = self._next_id
            self._next_id += 1
            values = {k: v for k, v in changes.items() if v != ""}
            deal = Deal(deal_id, values, [Write(at, source, source_id, changes)])
            self._deals[deal_id] = deal
            self._changed(deal_id)
            self._active_ids.append(deal_id)
            self._unique.index(deal, changes)
            bisect.insort(self._by_modified, (at, deal_id))
            self._tell(StoreChange(ChangeKind.CREATED, deal_id, at, source, source_id, changes))
            return deal

    def validate_new(
        self, raw: Mapping[str, Any], *, stage_required: bool = True
    ) -> dict[str, str]:
        with self.lock:
            return self._validate_new(raw, stage_required=stage_required)

    def _validate_new(self, raw: Mapping[str, Any], *, stage_required: bool) -> dict[str, str]:
        changes = self.book.validate(raw, pipeline_id=None)
        if not changes.get("dealname"):
            raise SandboxApiError(400, _missing("dealname"))
        if stage_required and not changes.get("dealstage"):
            raise SandboxApiError(400, _missing("dealstage"))
        if not changes.get("pipeline"):
            changes["pipeline"] = self.book.default_pipeline
        if not changes.get("dealstage"):
            changes["dealstage"] = self.book.pipelines[changes["pipeline"]].stages[0].id
        return changes

    def update(
        self,
        deal: Deal,
        raw: Mapping[str, Any],
        *,
        source: str = API,
        source_id: str | None = None,
        at_ms: int | None = None,
    ) -> Deal:
        """Validate and apply ``raw``; bumps hs_lastmodifieddate even when no value changes."""
        with self.lock:
            changes = self.book.validate(raw, pipeline_id=deal.values.get("pipeline"))
            self._keep_stage_in_pipeline(deal, changes)
            self._unique.check(changes, deal.id)
            self._write(deal, Write(self._stamp(at_ms), source, source_id, changes))
            return deal

    def register(self, deal: Deal, at_ms: int | None = None, *, active: bool = True) -> None:
        """Start (or, not ``active``, end) ``deal``'s registration as a shared deal: a
        calculated-property change, which bumps ``hs_lastmodifieddate``."""
        with self.lock:
            value = "1" if active else ""
            write = Write(self._stamp(at_ms), "CALCULATED", None, {REGISTERED_KEY: value})
            self._write(deal, write)

    def archive(self, deal: Deal, *, source: str = API) -> None:
        """Archive (soft delete): gone from reads and search; its unique values are released."""
        with self.lock:
            if deal.archived:
                return
            self._remove(deal)
            self._tell(StoreChange(ChangeKind.ARCHIVED, deal.id, deal.archived_ms, source))

    def restore(self, deal: Deal, *, source: str = "CRM_UI") -> None:
        """Bring an archived deal back from the recycling bin (as in the UI); its unique values
        must still be free (else a 409, nothing restored)."""
        with self.lock:
            if not deal.archived:
                return
            held = self._unique.held_by(deal)
            self._unique.check(held, deal.id)
            deal.archived = False
            self._changed(deal.id)
            bisect.insort(self._active_ids, deal.id)
            bisect.insort(self._by_modified, (deal.modified_ms, deal.id))
            self._unique.index(deal, held)
            self._tell(StoreChange(ChangeKind.RESTORED, deal.id, self.now_ms(), source))

    def merge(self, primary: Deal, merged: Deal, *, source: str = "CRM_UI") -> None:
        """Merge ``merged`` into ``primary``, which keeps its id and values: a value only the
        merged deal had moves over, then the merged deal is archived (it is gone from reads).
        Observers hear one merge, not an update and a deletion."""
        with self.lock:
            if primary.archived or merged.archived or primary.id == merged.id:
                raise bad_request("Merge needs two different active deals.")
            moved = {k: v for k, v in merged.values.items() if k not in primary.values}
            moved = {k: v for k, v in moved.items() if not k.startswith("__")}
            self._remove(merged)
            at = self.now_ms()
            self._write(primary, Write(at, source, None, moved), tell=False)
            change = StoreChange(
                ChangeKind.MERGED, primary.id, at, source, None, moved, (merged.id,), len(moved)
            )
            self._tell(change)

    def _remove(self, deal: Deal) -> None:
        deal.archived = True
        self._changed(deal.id)
        deal.archived_ms = self.now_ms()
        self._active_ids.pop(bisect.bisect_left(self._active_ids, deal.id))
        self._by_modified.pop(bisect.bisect_left(self._by_modified, (deal.modified_ms, deal.id)))
        self._unique.release(deal)

    def bulk_create(self, rows: Sequence[Mapping[str, Any]], at_ms: int, source: str) -> list[str]:
        """Validate all rows first (nothing is created if one fails), then create them."""
        with self.lock:
            validated = [self._validate_new(row, stage_required=False) for row in rows]
            self._unique.check_batch(validated)
            ids = [self.create({}, source=source, at_ms=at_ms, validated=v).id for v in validated]
            return [str(i) for i in ids]

    # -- helpers ---------------------------------------------------------------------------

    def changed_since(self, version: int) -> list[int] | None:
        """Ids changed after ``version`` (oldest first), or None if the log no longer reaches it."""
        with self.lock:
            count = self.version - version
            if count > len(self._changes) or count < 0:
                return None
            return list(self._changes)[len(self._changes) - count :] if count else []

    def _changed(self, deal_id: int) -> None:
        self.version += 1
        self._changes.append(deal_id)

    def _stamp(self, at_ms: int | None) -> int:
        return self.now_ms() if at_ms is None else at_ms

    def _write(self, deal: Deal, write: Write, *, tell: bool = True) -> None:
        self._changed(deal.id)
        self._by_modified.pop(bisect.bisect_left(self._by_modified, (deal.modified_ms, deal.id)))
        self._unique.unindex(deal, write.changes)
        deal.apply(write)
        self._unique.index(deal, write.changes)
        bisect.insort(self._by_modified, (deal.modified_ms, deal.id))
        if tell:
            self._tell(
                StoreChange(
                    ChangeKind.UPDATED,
                    deal.id,
                    write.at_ms,
                    write.source,
                    write.source_id,
                    write.changes,
                )
            )

    def _tell(self, change: StoreChange) -> None:
        if self.observer is not None:
            self.observer(change)

    def _keep_stage_in_pipeline(self, deal: Deal, changes: dict[str, str]) -> None:
        """A pipeline change without a valid stage moves the deal to the new pipeline's first stage.

        Assumption: HubSpot does not document this case; the UI forces a stage choice.
        """
        new_pipeline = changes.get("pipeline")
        if not new_pipeline or new_pipeline == deal.values.get("pipeline"):
            return
        stages = [s.id for s in self.book.pipelines[new_pipeline].stages]
        if changes.get("dealstage", deal.values.get("dealstage")) not in stages:
            changes["dealstage"] = stages[0]

    def _resolve(self, key: str, id_property: str | None) -> int | None:
        if id_property and id_property != "hs_object_id":
            if not self._unique.has(id_property):
                raise _not_unique(id_property)
            return self._unique.holder(id_property, key)
        return int(key) if key.isascii() and key.isdigit() else None


def _missing(name: str) -> dict[str, Any]:
    problem = PropertyProblem(name, "REQUIRED", f"{name} is required to create a deal.")
    return property_errors_body([problem])


def _not_unique(name: str) -> SandboxApiError:
    return bad_request(f"{name} is not a unique property; idProperty must have unique values.")
