"""Rep discovery: one pull per rep endpoint for every pair on it, routed to per-pair inboxes.

The rep CRM holds the shared deals of every partner account, and each pair's rep scope differs
only in which account it names (``shared_partner_account = {partner_account}``). Searching once
per pair costs P searches per cycle with nothing changed; searching once for all of them costs
one. So pairs whose rep discovery scopes are the same but for one **routing filter** (an ``EQ``
on the same property in every filter group) share a :class:`Group`: one query where that filter
becomes ``IN`` the pairs' values (or ``HAS_PROPERTY`` when the values would not fit a request),
and each changed deal is routed to the pairs whose value it holds and whose own scope selects
it. Pairs whose scopes cannot share a query get a group each. Routing queues ids only: the
pairs' cycles read them live (search finds, reads decide) and drain them.

A group's cursor and the inbox rows of a page are committed together, so a crash re-routes the
page (queuing is idempotent) and loses nothing. The page also advances the rep cursor of every
member that has one: a member's rep cursor says up to when its rep changes were found (by its
own pull, then by discovery), and a group starts from its oldest member's. So a pair that was
not a member for a while (disabled, or absent from the config of the process discovering)
rejoins from where it left off, not from where the group is. One process at a time discovers
an endpoint: it holds the endpoint's lease (``discover:<endpoint>``) while it runs. Ids queued
for the endpoint itself (a webhook cannot tell which pair a rep deal belongs to) are read live
and routed here.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync_worker.kernel.filters import Filter, PropertyShape, Scope
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import SyncMapping
from sync_worker.rules.scope import discovery_scope
from sync_worker.state.base import CursorMark, InboxEntry, Taken, endpoint_key
from sync_worker.sync.context import PairContext

IN_VALUES_MAX = 50
"""Routing values sent as ``IN (...)``; beyond it ``HAS_PROPERTY`` (HubSpot refuses a search body
over 3,000 characters, and string ``IN`` values must be lowercase)."""
IN_CHARS_MAX = 1_500
"""Nor more than this many characters of values (each counted with its quotes and comma): the
rest of a discovery's search body (window, paging, sort, scope properties) stays well within
the other half. Fifty partner accounts named by a 55-character slug would not fit."""
FIRST_LOOKBACK = timedelta(hours=1)
"""A group's first discovery starts this far back (or at its oldest member's rep cursor, if
older): a member's own first pull running at the same moment cannot leave a gap before it."""


def lease_name(endpoint: str) -> str:
    """The lease one process holds while it discovers ``endpoint`` (``:`` never occurs in a
    pair name)."""
    return f"discover:{endpoint}"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a group sends a deal: the pairs whose routing value it holds, each checked
    against its own discovery scope."""

    property: str | None
    """The routing filter's property; None for a group of one pair (no routing filter)."""
    pairs_by_value: Mapping[str, tuple[str, ...]]
    scopes: Mapping[str, Scope]
    mappings: Mapping[str, SyncMapping]
    """Each pair's mapping: a deal whose mapped values are what its pair last saw (the
    worker's own write coming back) is not queued."""

    def pairs_for(self, record: DealRecord, shapes: Mapping[str, PropertyShape]) -> list[str]:
        if self.property is None:
            candidates: Iterable[str] = self.scopes
        else:
            value = record.get(self.property)
            candidates = () if value is None else self.pairs_by_value.get(_norm(value), ())
        return [p for p in candidates if self.scopes[p].selects(record.properties, shapes)]


@dataclass(frozen=True, slots=True)
class Group:
    """Pairs on one rep endpoint discovered by one query."""

    key: str
    """The group's cursor key: ``discover:<endpoint>:<digest of its query shape>``."""
    endpoint: str
    scope: Scope
    properties: tuple[str, ...]
    route: Route

    @property
    def pairs(self) -> tuple[str, ...]:
        return tuple(self.route.scopes)


@dataclass(slots=True)
class Routed:
    """One discovery page turned into inbox entries."""

    entries: list[InboxEntry] = field(default_factory=list)
    unrouted: int = 0
    seen: int = 0
    """Deals not queued: their pair last saw these very values (an echo)."""


def plan_groups(pairs: Iterable[PairContext]) -> list[Group]:
    """Group the pairs' rep discovery by endpoint and query shape (see the module docs)."""
    scoped = [(ctx, discovery_scope(ctx.mapping, Side.REP)) for ctx in pairs]
    # A scope may hold several EQ filters common to its groups (a pipeline and the account):
    # each pair routes on the one whose template it shares with the most pairs, the one that
    # differs between them. The first of several would leave every pair a query of its own.
    sharing: Counter[tuple[str, object]] = Counter(
        (ctx.rep.name, _template(scope, f)) for ctx, scope in scoped for f in routing_filters(scope)
    )
    shapes: dict[tuple[str, object], list[tuple[PairContext, Filter | None, Scope]]] = {}
    for ctx, scope in scoped:
        routing = _most_shared(ctx.rep.name, scope, sharing)
        shape: object = _template(scope, routing) if routing else ("alone", ctx.name)
        shapes.setdefault((ctx.rep.name, shape), []).append((ctx, routing, scope))
    groups = [_group(endpoint, members) for (endpoint, _), members in shapes.items()]
    return sorted(groups, key=lambda g: g.key)


def routing_filters(scope: Scope) -> list[Filter]:
    """Every ``EQ`` filter with one value that is in every filter group: each could route."""
    if not scope.groups:
        return []
    first = [f for f in scope.groups[0] if f.operator == "EQ" and f.value is not None]
    return [f for f in dict.fromkeys(first) if all(f in group for group in scope.groups[1:])]


def _most_shared(
    endpoint: str, scope: Scope, sharing: Counter[tuple[str, object]]
) -> Filter | None:
    """The routing filter whose template the most pairs share (the first of equals)."""
    candidates = routing_filters(scope)
    counts = [sharing[(endpoint, _template(scope, f))] for f in candidates]
    return candidates[counts.index(max(counts))] if candidates else None


def _template(scope: Scope, routing: Filter) -> tuple[object, ...]:
    """The scope with its routing filter's value blanked: pairs with equal templates share one
    query."""
    blank = Filter(routing.property, "ROUTE")
    return tuple(tuple(blank if f == routing else f for f in group) for group in scope.groups)


def _group(endpoint: str, members: list[tuple[PairContext, Filter | None, Scope]]) -> Group:
    scopes = {ctx.name: scope for ctx, _, scope in members}
    mappings = {ctx.name: ctx.mapping for ctx, _, _ in members}
    wanted = [p for _, _, scope in members for p in scope.properties()]
    wanted += [p for ctx, _, _ in members for p in ctx.mapping.properties(Side.REP)]
    properties = tuple(dict.fromkeys(wanted))
    routing = members[0][1]
    if routing is None:
        (ctx, _, scope) = members[0]
        return Group(
            _key(endpoint, ("alone", ctx.name)),
            endpoint,
            scope,
            properties,
            Route(None, {}, scopes, mappings),
        )
    by_value: dict[str, list[str]] = {}
    for ctx, found, _ in members:
        if found is not None and found.value is not None:  # always: grouped by this shape
            by_value.setdefault(_norm(found.value), []).append(ctx.name)
    values = sorted({f.value for _, f, _ in members if f is not None and f.value is not None})
    fits = (
        len(values) <= IN_VALUES_MAX
        and sum(len(v) + 3 for v in values) <= IN_CHARS_MAX
        and all(v == v.lower() for v in values)
    )
    shared = (
        Filter(routing.property, "IN", values=tuple(values))
        if fits
        else Filter(routing.property, "HAS_PROPERTY")
    )
    first = members[0][2]
    scope = Scope(tuple(tuple(shared if f == routing else f for f in g) for g in first.groups))
    route = Route(routing.property, {v: tuple(ps) for v, ps in by_value.items()}, scopes, mappings)
    key = _key(endpoint, _template(first, routing))
    return Group(key, endpoint, scope, properties, route)


def _key(endpoint: str, shape: object) -> str:
    digest = hashlib.blake2b(repr(shape).encode(), digest_size=6).hexdigest()
    return f"{lease_name(endpoint)}:{digest}"


def _norm(value: str) -> str:
    """A routing key equal for every pair of values HubSpot's ``EQ`` may take as equal
    (numbers numerically, text without case); the pair's own scope then decides exactly."""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return text.casefold()
    return repr(number) if math.isfinite(number) else text.casefold()


def route_page(
    groups: Sequence[Group],
    records: Sequence[DealRecord],
    shapes: Mapping[str, PropertyShape],
    *,
    now: datetime,
    source: str,
) -> Routed:
    """Inbox entries for the pairs of ``groups`` that each record belongs to."""
    routed = Routed()
    for record in records:
        pairs = {p for group in groups for p in group.route.pairs_for(record, shapes)}
        if not pairs:
            routed.unrouted += 1
        routed.entries += [
            InboxEntry(p, Side.REP, record.id, source, now, record) for p in sorted(pairs)
        ]
    return routed


def start_cursor(
    group_cursor: datetime | None, member_cursors: Iterable[datetime], now: datetime
) -> datetime:
    """Where a group's discovery starts: its own cursor (the first time, :data:`FIRST_LOOKBACK`
    back), or the oldest member's rep cursor if older (a pair rejoining the group)."""
    return min([*member_cursors, group_cursor or now - FIRST_LOOKBACK])


def cursor_marks(group: Group, members: Iterable[str], at: datetime | None) -> list[CursorMark]:
    """What a page advances: the group's cursor and the rep cursors of ``members`` (those that
    had one when the discovery started; a pair without one still needs its first pull)."""
    if at is None:
        return []
    return [CursorMark(key, Side.REP, at) for key in (group.key, *members)]


def taken_from_endpoint(entries: Sequence[InboxEntry]) -> list[tuple[str, Taken]]:
    return [(e.key, Taken(e.side, e.record_id, e.queued_at)) for e in entries]


__all__ = [
    "FIRST_LOOKBACK",
    "IN_CHARS_MAX",
    "IN_VALUES_MAX",
    "Group",
    "Route",
    "Routed",
    "cursor_marks",
    "endpoint_key",
    "lease_name",
    "plan_groups",
    "route_page",
    "routing_filters",
    "start_cursor",
    "taken_from_endpoint",
]
