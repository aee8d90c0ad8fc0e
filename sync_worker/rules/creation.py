"""Planning a counterpart: what to create on the other side for a newly originated shared deal.

Per field: a ``set_on_create`` field with a default on the target gets that default (a deal
arriving in the partner account lands in the referred-deals pipeline); else the origin's value
if the direction lets it flow; else the target's default, if any. An owned set is copied whole.
The new base holds the fields whose new value equals the origin's. A deal team shows the origin's
members on both deals (``origin_updates``: the origin's own display, seeded collaborators).
"""

from __future__ import annotations

from datetime import datetime

from sync_worker.kernel.model import BySide, DealRecord, Side
from sync_worker.rules.builder import UNREADABLE, Builder
from sync_worker.rules.deal_team import create_team
from sync_worker.rules.mapping import FieldMapping, Rule, SyncMapping
from sync_worker.rules.plan import BaseSnapshot, CreationPlan, Directory, Reason

__all__ = ["plan_creation"]


def plan_creation(
    origin: DealRecord,
    origin_side: Side,
    mapping: SyncMapping,
    directory: Directory,
    now: datetime,
) -> CreationPlan:
    """What to create on the other side for ``origin`` (see the module docstring)."""
    target = origin_side.other
    key = mapping.link_value(target, origin.id)
    properties = {mapping.link_property(target): key, **mapping.create_constants(target)}
    out = Builder({}, directory, {})
    for spec in mapping.fields:
        if spec.team is not None:
            create_team(spec, origin, origin_side, out)
        else:
            _create_field(spec, origin, origin_side, out)
    properties.update(out.updates.get(target, {}))
    return CreationPlan(
        origin_side=origin_side,
        origin_id=origin.id,
        target_side=target,
        key=key,
        id_property=mapping.link_property(target),
        properties=properties,
        new_base=BaseSnapshot(out.base, now),
        changes=tuple(out.changes),
        rejections=tuple(out.rejections),
        origin_updates=out.updates.get(origin_side, {}),
    )


def _create_field(spec: FieldMapping, origin: DealRecord, origin_side: Side, out: Builder) -> None:
    """Pick the target's value: a set-on-create default, else the origin's value if it may flow,
    else the default. The origin's value is read (and can be rejected) only when it is used."""
    target = origin_side.other
    default = spec.default(target)
    fallback = None
    if default is not None:
        fallback = (spec.codec(target).read(default), f"created: the {target}'s default")
    candidates: list[tuple[object, str]] = []
    value: object = None
    if fallback is not None and spec.rule is Rule.SET_ON_CREATE:
        candidates.append(fallback)
    elif spec.allows(origin_side):
        value = out.read(spec, origin_side, origin)
        if value is not None and value is not UNREADABLE:
            candidates.append((value, f"created: copied from the {origin_side}"))
    if fallback is not None:
        candidates.append(fallback)
    raw = origin.properties.get(spec.property_on(origin_side))
    nothing: BySide[str | None] = BySide(None, None)
    seen = nothing.with_value(origin_side, raw)
    for new, decision in candidates:
        if out.write(
            spec, target, None, new, Reason(spec.rule.value, decision, seen.partner, seen.rep)
        ):
            if new == value:
                out.base[spec.name] = new
            return
