"""``InMemoryConnector``: the reference implementation of the connector port.

It behaves like HubSpot where the engine can tell the difference: ``changes`` pages in ascending
``hs_lastmodifieddate`` order with scope filters evaluated by HubSpot's operator semantics;
every write bumps ``hs_lastmodifieddate`` (echoes come back); archived deals are ``missing`` on
read and ``RecordFailure(gone=True)`` on write; upsert is keyed by a unique property; values
are validated against property definitions (unknown, read-only, bad option, bad number, a
unique value held by another deal, plus rules injected with :meth:`reject_property`), failing
only the offending record; ``api_calls`` counts what HubSpot would charge (one per search page,
per 100 reads (50 with history), per 100 writes, per owners page, one per metadata list).

Time comes from the injected :class:`~sync_worker.kernel.clock.Clock`, truncated to milliseconds.
Test hooks (not part of the port): :meth:`put`, :meth:`edit`, :meth:`archive`, :meth:`get`,
:meth:`all`, :meth:`reject_property`, :meth:`define_property`, :meth:`set_users`,
:meth:`set_pipelines`, :meth:`problem_with`, :meth:`search`.
"""

from __future__ import annotations

import math
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sync_worker.connectors.base import (
    ChangePage,
    Filter,
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
from sync_worker.connectors.hubspot.paginator import query_problems
from sync_worker.connectors.hubspot.standard import (
    DEFAULT_PIPELINES,
    DEFAULT_PROPERTIES,
    PortalRules,
    Predicate,
    Rejection,
)
from sync_worker.kernel.clock import Clock, from_epoch_ms, to_epoch_ms
from sync_worker.kernel.errors import ConfigError, PermanentError
from sync_worker.kernel.filters import matches
from sync_worker.kernel.model import DealRecord

__all__ = ["DEFAULT_PIPELINES", "DEFAULT_PROPERTIES", "InMemoryConnector"]

MODIFIED, OBJECT_ID, CREATED = "hs_lastmodifieddate", "hs_object_id", "createdate"
BATCH, HISTORY_BATCH, OWNERS_PAGE = 100, 50, 100
_ORDERED: dict[str, Callable[[int, int], bool]] = {
    "EQ": operator.eq,
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
}


@dataclass(slots=True)
class _Deal:
    id: str
    values: dict[str, str]
    modified_ms: int
    stamps: dict[str, datetime] = field(default_factory=dict)
    archived: bool = False

    def sort_key(self) -> tuple[int, int]:
        return (self.modified_ms, int(self.id))

    def value(self, name: str) -> str | None:
        if name == MODIFIED:
            return _iso(self.modified_ms)
        if name == OBJECT_ID:
            return self.id
        return self.values.get(name)


_KEY_FILTERS: dict[str, Callable[[_Deal], int]] = {
    # Fast paths for the connector's own window filters (epoch-ms and numeric-id values).
    MODIFIED: lambda d: d.modified_ms,
    OBJECT_ID: lambda d: int(d.id),
}


def _iso(ms: int) -> str:
    return from_epoch_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class InMemoryConnector:
    """A HubSpot-like portal in memory. Thread-safe."""

    def __init__(
        self,
        clock: Clock,
        *,
        name: str = "memory",
        overlap: timedelta = timedelta(0),
        page_size: int = 200,
        properties: Iterable[PropertyDef] = DEFAULT_PROPERTIES,
        users: Iterable[User] = (),
        pipelines: Iterable[Pipeline] = DEFAULT_PIPELINES,
        first_id: int = 1001,
    ) -> None:
        self.name = name
        self._clock = clock
        self._overlap = overlap
        self._page_size = page_size
        self._rules = PortalRules(properties, users, pipelines)
        self._deals: dict[str, _Deal] = {}
        self._next_id = first_id
        self._calls = 0
        self._lock = threading.RLock()

    # -- test hooks -----------------------------------------------------------------------

    def put(self, properties: Mapping[str, str], *, at: datetime | None = None) -> str:
        """Create a deal as a user would (no validation); return its id."""
        with self._lock:
            deal_id = str(self._next_id)
            self._next_id += 1
            ms = self._ms(at)
            self._deals[deal_id] = _Deal(deal_id, {CREATED: _iso(ms)}, ms)
            self._apply(self._deals[deal_id], properties, ms)
            return deal_id

    def edit(
        self, deal_id: str, properties: Mapping[str, str], *, at: datetime | None = None
    ) -> DealRecord:
        """Change a deal as a user would (no validation): bumps its modification times."""
        with self._lock:
            deal = self._deals[deal_id]
            self._apply(deal, properties, self._ms(at))
            return self._record(deal, None)

    def archive(self, deal_id: str) -> None:
        """Move a deal to the recycling bin: it leaves search and reads, writes fail as gone."""
        with self._lock:
            self._deals[deal_id].archived = True

    def get(self, deal_id: str) -> DealRecord | None:
        """The deal with every property and its timestamps (archived ones too), or ``None``."""
        with self._lock:
            deal = self._deals.get(deal_id)
            return self._record(deal, None, history=True) if deal else None

    def all(self, *, include_archived: bool = False) -> tuple[DealRecord, ...]:
        """Every deal, in id order."""
        with self._lock:
            deals = sorted(self._deals.values(), key=lambda d: int(d.id))
            return tuple(self._record(d, None) for d in deals if include_archived or not d.archived)

    def reject_property(self, name: str, value: str | Predicate, message: str) -> None:
        """From now on, writing ``name`` with ``value`` (or a value passing the predicate)
        fails that record with ``message``, like a HubSpot validation error."""
        test = value if callable(value) else (lambda v, wanted=value: v == wanted)
        with self._lock:
            self._rules.rejections.append(Rejection(name, test, message))

    def define_property(self, definition: PropertyDef) -> None:
        with self._lock:
            self._rules.defs[definition.name] = definition

    def set_users(self, users: Iterable[User]) -> None:
        with self._lock:
            self._rules.users = tuple(users)

    def set_pipelines(self, pipelines: Iterable[Pipeline]) -> None:
        with self._lock:
            self._rules.pipelines = tuple(pipelines)

    def problem_with(self, properties: Mapping[str, str], deal_id: str | None = None) -> str | None:
        """Why writing ``properties`` (to ``deal_id``, or to a new deal) would fail, or ``None``."""
        with self._lock:
            return self._problem(properties, self._deals.get(deal_id) if deal_id else None)

    def search(
        self,
        scope: Scope,
        *,
        by_id: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[DealRecord]]:
        """Live deals selected by ``scope`` (any group), ascending by (modified, id) or by id:
        how many in all, and the slice ``[offset, offset + limit)`` of them (for fakes of
        search)."""
        with self._lock:
            chosen = self._select_any(scope, None)
            if by_id:
                chosen.sort(key=lambda d: int(d.id))
            end = None if limit is None else offset + limit
            return len(chosen), [self._record(d, None) for d in chosen[offset:end]]

    # -- the port -------------------------------------------------------------------------

    def changes(
        self, since: datetime | None, scope: Scope, properties: Sequence[str]
    ) -> Iterator[ChangePage]:
        problems = query_problems(scope, properties)  # the same limits as HubSpotConnector's
        if problems:
            raise ConfigError(problems)
        floor = to_epoch_ms(since) if since is not None else None
        started = self._clock.now()
        until = to_epoch_ms(started)
        after: int | None = None
        total: int | None = None
        while True:
            with self._lock:  # HubSpotConnector's paging: the window by id, 200 new a page
                self._calls += 1
                window = [d for d in self._select_any(scope, floor) if d.modified_ms <= until]
                total = len(window) if total is None else total
                rest = sorted(
                    (d for d in window if after is None or int(d.id) > after),
                    key=lambda d: int(d.id),
                )
                page = rest[: self._page_size]
                records = tuple(self._record(d, properties) for d in page)
            if records:
                yield ChangePage(records, None, total)
                after = int(page[-1].id)
            if len(rest) <= self._page_size:
                yield ChangePage((), started - self._overlap, total)
                return

    def read(
        self,
        ids: Sequence[str],
        properties: Sequence[str],
        *,
        id_property: str | None = None,
        with_history: bool = False,
    ) -> ReadResult:
        wanted = list(dict.fromkeys(ids))
        with self._lock:
            self._charge(len(wanted), HISTORY_BATCH if with_history else BATCH)
            found = {}
            for key in wanted:
                deal = self._find(key, id_property)
                if deal is not None:
                    found[key] = self._record(deal, properties, history=with_history)
        return ReadResult(found, tuple(k for k in wanted if k not in found))

    def update(self, updates: Sequence[RecordUpdate]) -> WriteResult:
        with self._lock:
            self._charge(len(updates), BATCH)
            written: dict[str, DealRecord] = {}
            failed: list[RecordFailure] = []
            for item in updates:
                deal = self._deals.get(item.id)
                if deal is None or deal.archived:
                    failed.append(_gone(item.id))
                    continue
                self._write(deal, item.id, item.properties, written, failed)
            return WriteResult(written, tuple(failed))

    def upsert(self, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        return self._keyed_writes(creates, id_property, overwrite=True)

    def unique_properties(self) -> frozenset[str]:
        """Names of the unique-value properties (a test hook; costs no call)."""
        return frozenset(name for name, d in self._rules.defs.items() if d.unique)

    def create(self, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        return self._keyed_writes(creates, id_property, overwrite=False)

    def _keyed_writes(
        self, creates: Sequence[RecordCreate], id_property: str, *, overwrite: bool
    ) -> WriteResult:
        """Upsert (``overwrite``) or create by the unique ``id_property``: a create whose key a
        deal already holds fails with HubSpot's CONFLICT category and writes nothing."""
        definition = self._rules.defs.get(id_property)
        if definition is None or not definition.unique:
            raise PermanentError(f"{id_property!r} is not a unique-value property", status=400)
        with self._lock:
            self._charge(len(creates), BATCH)
            written: dict[str, DealRecord] = {}
            failed: list[RecordFailure] = []
            for item in creates:
                deal = self._find(item.key, id_property)
                values = {**item.properties, id_property: item.key}
                if deal is not None and not overwrite:
                    reason = f"CONFLICT: a deal with {id_property}={item.key!r} already exists"
                    failed.append(RecordFailure(item.key, reason))
                    continue
                if deal is None:
                    problem = self._problem(values, None)
                    if problem:
                        invalid = self._rules.invalid(values, holder=self._holder, deal_id=None)
                        failed.append(RecordFailure(item.key, problem, properties=invalid))
                        continue
                    deal = self._deals[self.put({})]
                self._write(deal, item.key, values, written, failed)
            return WriteResult(written, tuple(failed))

    def users(self) -> tuple[User, ...]:
        with self._lock:
            active = [u for u in self._rules.users if u.active]
            self._charge(max(1, len(active)), OWNERS_PAGE)
            return tuple(User(u.id, u.email.lower()) for u in active)

    def owners(self, *, refresh: bool = False) -> tuple[User, ...]:
        """Active and deactivated users (``refresh`` changes nothing: nothing is cached)."""
        del refresh
        with self._lock:
            active = sum(1 for u in self._rules.users if u.active)
            self._charge(max(1, active), OWNERS_PAGE)
            self._charge(max(1, len(self._rules.users) - active), OWNERS_PAGE)
            return tuple(replace(u, email=u.email.lower()) for u in self._rules.users)

    def pipelines(self) -> tuple[Pipeline, ...]:
        with self._lock:
            self._calls += 1
            return self._rules.pipelines

    def property_definitions(self) -> Mapping[str, PropertyDef]:
        with self._lock:
            self._calls += 1
            return dict(self._rules.defs)

    def api_calls(self) -> int:
        with self._lock:
            return self._calls

    # -- internals ------------------------------------------------------------------------

    def _ms(self, at: datetime | None) -> int:
        return to_epoch_ms(at or self._clock.now())

    def _charge(self, count: int, batch: int) -> None:
        self._calls += math.ceil(count / batch)

    def _select(self, filters: Sequence[Filter], floor: int | None) -> list[_Deal]:
        live = (
            d
            for d in self._deals.values()
            if not d.archived and (floor is None or d.modified_ms >= floor)
        )
        chosen = [d for d in live if all(self._passes(f, d) for f in filters)]
        return sorted(chosen, key=_Deal.sort_key)

    def _select_any(self, scope: Scope, floor: int | None) -> list[_Deal]:
        """Deals selected by any group of ``scope`` (each once), in (modified, id) order."""
        if not scope.groups or not all(scope.groups):
            return self._select((), floor)
        chosen = {d.id: d for group in scope.groups for d in self._select(group, floor)}
        return sorted(chosen.values(), key=_Deal.sort_key)

    def _passes(self, item: Filter, deal: _Deal) -> bool:
        fast = _KEY_FILTERS.get(item.property)
        if fast and item.operator in _ORDERED and item.value and item.value.isdigit():
            return _ORDERED[item.operator](fast(deal), int(item.value))
        return matches(item, deal.value(item.property), self._rules.defs.get(item.property))

    def _find(self, key: str, id_property: str | None) -> _Deal | None:
        if id_property is None:
            deal = self._deals.get(key)
            return deal if deal is not None and not deal.archived else None
        return next(
            (
                d
                for d in self._deals.values()
                if not d.archived and d.values.get(id_property) == key
            ),
            None,
        )

    def _apply(self, deal: _Deal, properties: Mapping[str, str], ms: int) -> None:
        moment = from_epoch_ms(ms)
        for name, value in properties.items():
            if deal.values.get(name, "") != value:
                deal.stamps[name] = moment
            if value == "":
                deal.values.pop(name, None)
            else:
                deal.values[name] = value
        deal.modified_ms = max(deal.modified_ms, ms)

    def _write(
        self,
        deal: _Deal,
        key: str,
        values: Mapping[str, str],
        written: dict[str, DealRecord],
        failed: list[RecordFailure],
    ) -> None:
        problem = self._problem(values, deal)
        if problem:
            invalid = self._rules.invalid(values, holder=self._holder, deal_id=deal.id)
            failed.append(RecordFailure(key, problem, properties=invalid))
            return
        self._apply(deal, values, self._ms(None))
        written[key] = self._record(deal, list(values))

    def _problem(self, values: Mapping[str, str], deal: _Deal | None) -> str | None:
        return self._rules.problem(values, holder=self._holder, deal_id=deal.id if deal else None)

    def _holder(self, name: str, value: str) -> str | None:
        deal = self._find(value, name)
        return deal.id if deal else None

    def _record(
        self, deal: _Deal, properties: Sequence[str] | None, *, history: bool = False
    ) -> DealRecord:
        names = list(deal.values) if properties is None else properties
        props = {n: deal.value(n) for n in dict.fromkeys([*names, MODIFIED, OBJECT_ID])}
        stamps = {n: deal.stamps[n] for n in names if n in deal.stamps} if history else {}
        return DealRecord(
            id=deal.id,
            properties=props,
            modified_at=from_epoch_ms(deal.modified_ms),
            property_timestamps=stamps,
            archived=deal.archived,
        )


def _gone(key: str) -> RecordFailure:
    return RecordFailure(key, "OBJECT_NOT_FOUND: the deal is archived or does not exist", gone=True)
