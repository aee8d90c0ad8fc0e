"""Scope checks for deals read by id (counterparts, retried dead letters), for one cycle.

The rules are :mod:`sync_worker.rules.scope`'s; this room adds the property definitions (a
filter compares numbers as numbers, enumerations case-sensitively), fetched at most once per side
per cycle and only when a deal needs judging, and says in a sentence why a pair is out of scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sync_worker.connectors.base import PropertyDef
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.scope import failing_filter, infer_origin, reach_problem
from sync_worker.state.base import LinkState
from sync_worker.sync.context import PairContext


@dataclass(slots=True)
class ScopeGuard:
    """Judges deals and pairs against one pair's scope."""

    ctx: PairContext
    _shapes: dict[Side, Mapping[str, PropertyDef]] = field(default_factory=dict)

    def shapes(self, side: Side) -> Mapping[str, PropertyDef]:
        found = self._shapes.get(side)
        if found is None:
            found = self.ctx.connector(side).property_definitions()
            self._shapes[side] = found
        return found

    def in_scope(self, side: Side, record: DealRecord) -> bool:
        """Whether ``record`` passes every scope filter of ``side`` (an origin must)."""
        scope = self.ctx.mapping.scope(side)
        return not scope or failing_filter(scope, record, self.shapes(side)) is None

    def in_reach(self, side: Side, record: DealRecord) -> bool:
        """Whether ``record`` may be the non-origin deal of a pair (see rules.scope)."""
        if not self.ctx.mapping.scope(side):
            return True
        return reach_problem(self.ctx.mapping, side, record, self.shapes(side)) is None

    def origin(self, partner: DealRecord, link: LinkState | None) -> Side:
        """The side the pair's shared deal was created on: recorded, else inferred."""
        if link is not None and link.origin is not None:
            return link.origin
        if not self.ctx.mapping.scope(Side.PARTNER):
            return Side.PARTNER
        return infer_origin(self.ctx.mapping, partner, self.shapes(Side.PARTNER))

    def pair_problem(self, partner: DealRecord, rep: DealRecord, origin: Side) -> str | None:
        """Why the pair may not sync now, naming the deal and the filter; None when it may."""
        records = {Side.PARTNER: partner, Side.REP: rep}
        scope = self.ctx.mapping.scope(origin)
        failed = failing_filter(scope, records[origin], self.shapes(origin)) if scope else None
        if failed is not None:
            return (
                f"{origin} deal {records[origin].id} (where the shared deal was created) "
                f"fails the {origin} scope filter {failed.describe()}"
            )
        other = origin.other
        if not self.ctx.mapping.scope(other):
            return None
        why = reach_problem(self.ctx.mapping, other, records[other], self.shapes(other))
        if why is None:
            return None
        return f"{other} deal {records[other].id} {why}"
