"""Which deals belong to a pair, decided per linked pair by its **origin** (pure).

A side's scope filters select the shared deals that originate there: the partner's registered
deals, the rep's deals referred to this partner. A counterpart the worker creates cannot always
satisfy the other side's scope: HubSpot calculates the registration count from registration
records no API creates, so a partner deal created for a rep referral is never "registered". The
rules, therefore:

* a side's **kept** filters are those a counterpart the worker creates there satisfies by
  construction (its creation constants and defaults fill them);
* a side's **reach** (what its pull discovers, HubSpot ORs the groups) is its scope, or, when
  some filter is not kept, the kept filters plus "carries a link property";
* a linked pair syncs while its origin is in its side's scope and the other deal is within its
  side's reach. A registration that ends stops a partner-registered deal; a rep deal given to
  another partner stops too (the partner account filter is kept, so it still counts).

The origin is recorded when the worker links a pair. For a pair linked by hand, or before the
origin was recorded, it is inferred: the partner side when its deal is in scope, else the rep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sync_worker.kernel.filters import Filter, PropertyShape, Scope, matches
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import SyncMapping

__all__ = [
    "created_values",
    "discovery_scope",
    "failing_filter",
    "infer_origin",
    "kept_filters",
    "reach_problem",
    "unkept_filters",
]

Shapes = Mapping[str, PropertyShape]


def created_values(mapping: SyncMapping, side: Side) -> dict[str, str]:
    """The values every counterpart the worker creates on ``side`` carries for sure: field
    defaults and creation constants (constants win, as in creation)."""
    values = {
        spec.property_on(side): default
        for spec in mapping.fields
        if (default := spec.default(side)) is not None
    }
    values.update(mapping.create_constants(side))
    return values


def kept_filters(mapping: SyncMapping, side: Side) -> list[Filter]:
    """``side``'s scope filters that a counterpart the worker creates there satisfies (judged
    on the values alone, as strings where no property definition is at hand)."""
    values = created_values(mapping, side)
    return [f for f in mapping.scope(side) if matches(f, values.get(f.property), None)]


def unkept_filters(mapping: SyncMapping, side: Side) -> list[Filter]:
    """``side``'s scope filters the worker cannot make true on the deals it creates there
    (a calculated or read-only property, or a value it never writes)."""
    kept = kept_filters(mapping, side)
    return [f for f in mapping.scope(side) if f not in kept]


def discovery_scope(mapping: SyncMapping, side: Side) -> Scope:
    """What ``side``'s pull asks for: its scope, OR (when a filter is not kept) the kept filters
    and a link property, so that counterparts the worker created are pulled too."""
    scope = mapping.scope(side)
    if not unkept_filters(mapping, side):
        return Scope.all_of(scope)
    link = Filter(mapping.link_property(side), "HAS_PROPERTY")
    return Scope((tuple(scope), (*kept_filters(mapping, side), link)))


def failing_filter(filters: Sequence[Filter], record: DealRecord, shapes: Shapes) -> Filter | None:
    """The first of ``filters`` (ANDed) that ``record`` fails, or None."""
    for item in filters:
        if not matches(item, record.properties.get(item.property), shapes.get(item.property)):
            return item
    return None


def reach_problem(
    mapping: SyncMapping, side: Side, record: DealRecord, shapes: Shapes
) -> str | None:
    """Why ``record`` is outside ``side``'s reach (see the module docs), or None."""
    failed = failing_filter(mapping.scope(side), record, shapes)
    if failed is None:
        return None
    missed = failing_filter(kept_filters(mapping, side), record, shapes)
    if missed is not None:
        return f"fails {missed.describe()}"
    link = mapping.link_property(side)
    if record.get(link) is None:
        return f"fails {failed.describe()} and carries no {link}"
    return None


def infer_origin(mapping: SyncMapping, partner: DealRecord, shapes: Shapes) -> Side:
    """The origin of a pair the worker did not record one for: the partner side when its deal
    is in the partner scope (registered), else the rep side."""
    if failing_filter(mapping.scope(Side.PARTNER), partner, shapes) is None:
        return Side.PARTNER
    return Side.REP
