"""The connector port: what the engine needs from a CRM, and nothing more.

Behaviour every implementation must have (the contract suite in ``tests/contract`` checks it):

* **Completeness.** :meth:`Connector.changes` yields every record selected by ``scope`` (any of
  its filter groups) modified at or after ``since`` and no later than the pull's start, at least
  once (never missed, whatever the number of changes or the search cap), in no particular time
  order; a record may be
  yielded twice (at-least-once), so callers must be idempotent. Records modified while the pull
  runs (the caller's own writes included) are left to the next pull.
* **Search finds, reads decide.** A pulled record may be a search document that trails the live
  record (index lag): callers must not plan a write from it; :meth:`Connector.read` is live.
* **Cursors.** A :class:`ChangePage` may carry ``cursor``: the caller may persist it once it has
  processed that page and every page before it (None: nothing to persist yet). Passing it back
  as ``since`` later resumes without missing anything, index lag included. The last page of a
  pull (possibly empty) carries the pull's start minus the connector's lag allowance, so an
  idle pull moves the cursor on and the next one settles to a single search.
* **Idempotency.** :meth:`Connector.create` sets a unique property: a retry after a crash fails
  for the record it created instead of creating a duplicate (the caller then reads it by that
  property). :meth:`Connector.upsert` creates-or-updates by a unique property.
* **Partial failure.** Batch calls never fail as a whole because one record is bad: per-record
  failures come back in ``failed`` with a reason; records that no longer exist come back as
  ``missing`` (reads) or ``RecordFailure(gone=True)`` (writes).
* **Errors.** Everything else raises from :mod:`sync_worker.kernel.errors`' ``ConnectorError``
family,
  after the connector's own single retry policy gave up (transient) or at once (auth, permanent,
  daily limit).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from sync_worker.kernel.filters import Filter, Scope
from sync_worker.kernel.model import DealRecord

__all__ = [
    "ChangePage",
    "Connector",
    "DealRecord",
    "Filter",
    "Pipeline",
    "PropertyDef",
    "ReadResult",
    "RecordCreate",
    "RecordFailure",
    "RecordUpdate",
    "Scope",
    "Stage",
    "User",
    "WriteResult",
]


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One page of changed records; ``cursor`` is safe to commit after the page is processed.

    ``total`` is the CRM's estimate of how many records the whole pull will yield, when known
    (for progress bars); it is a hint, never a bound.
    """

    records: tuple[DealRecord, ...]
    cursor: datetime | None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class RecordUpdate:
    """Set ``properties`` (raw CRM values; ``""`` clears a value) on record ``id``."""

    id: str
    properties: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RecordCreate:
    """Create-or-update the record whose unique property holds ``key``."""

    key: str
    properties: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """A per-record failure inside a batch. ``gone``: the record is archived or does not exist.
    ``properties``: the properties the CRM named as invalid, when it named any (the rest of the
    record's values may then be written without them)."""

    id: str
    reason: str
    gone: bool = False
    properties: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadResult:
    """``found`` is keyed by the id asked for (or by the id-property value); ``missing`` lists
    the ids that do not exist or are archived."""

    found: Mapping[str, DealRecord]
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WriteResult:
    """``written`` is keyed by record id (updates) or by ``RecordCreate.key`` (upserts), holding
    the record as the CRM returned it after the write (its ``modified_at`` is the write's time)."""

    written: Mapping[str, DealRecord]
    failed: tuple[RecordFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class User:
    """A user of one account (HubSpot: an owner). ``email`` is lower-cased; ``name`` is the
    owner's first and last name (may be empty); ``active`` is False for a deactivated user
    (HubSpot: an archived owner)."""

    id: str
    email: str
    name: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Pipeline:
    id: str
    label: str
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True, slots=True)
class PropertyDef:
    """A property definition. ``options`` holds the allowed values of enumerations."""

    name: str
    type: str
    field_type: str = "text"
    options: tuple[str, ...] = ()
    read_only: bool = False
    unique: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    """One CRM account (portal) as the engine sees it."""

    name: str

    def changes(
        self, since: datetime | None, scope: Scope, properties: Sequence[str]
    ) -> Iterator[ChangePage]:
        """Records selected by ``scope`` (filter groups ORed, the filters of a group ANDed)
        modified at or after ``since`` (all of them when ``None``), up to the pull's start,
        as pages. Archived records are never yielded. A scope the CRM's search cannot
        express (HubSpot: over 5 groups, 4 filters in a group, 18 in all with the pull's own)
        raises :class:`~sync_worker.kernel.errors.ConfigError` before any request."""
        ...

    def read(
        self,
        ids: Sequence[str],
        properties: Sequence[str],
        *,
        id_property: str | None = None,
        with_history: bool = False,
    ) -> ReadResult:
        """Batch read by record id, or by the unique ``id_property``'s values. With
        ``with_history`` each record's ``property_timestamps`` is filled in. Any number of ids:
        the connector splits them into the CRM's batch size."""
        ...

    def update(self, updates: Sequence[RecordUpdate]) -> WriteResult:
        """Batch update; any number of updates, split into the CRM's batch size."""
        ...

    def upsert(self, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        """Idempotent create-or-update keyed by the unique property ``id_property``."""
        ...

    def create(self, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        """Batch create, each record's unique ``id_property`` set to its create's key. A key
        another record already holds fails that create (``failed``): nothing is overwritten,
        nothing duplicated. ``written`` is keyed by the creates' keys."""
        ...

    def users(self) -> tuple[User, ...]:
        """Every active user of the account, with emails (the user directory)."""
        ...

    def owners(self, *, refresh: bool = False) -> tuple[User, ...]:
        """Every user with an email, active and deactivated (``active=False``), with names:
        what owner ids in deal properties resolve to. Cached like :meth:`users`; ``refresh``
        reloads now (the caller met an owner id the cached list does not know)."""
        ...

    def pipelines(self) -> tuple[Pipeline, ...]:
        """Deal pipelines with their stages."""
        ...

    def property_definitions(self) -> Mapping[str, PropertyDef]:
        """Deal property definitions by name."""
        ...

    def api_calls(self) -> int:
        """How many API requests this connector has sent so far (retries included)."""
        ...
