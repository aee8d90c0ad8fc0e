"""The builder a plan is assembled with: reading values (a malformed or unmappable one becomes a
rejection), writing them (a value a side cannot take becomes one too), and collecting the
decisions. Shared by :mod:`sync_worker.rules.reconcile` and :mod:`sync_worker.rules.creation`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from sync_worker.kernel.canonical import format_value
from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import FieldMapping
from sync_worker.rules.plan import (
    Conflict,
    Directory,
    FieldChange,
    Held,
    OwnedSetRevert,
    Reason,
    Rejection,
)

__all__ = ["UNREADABLE", "Builder"]


class _Unreadable:
    """Marks a value that was rejected."""


_UNREADABLE = _Unreadable()


UNREADABLE = _Unreadable()


@dataclass(slots=True)
class Builder:
    """Collects one call's decisions; private to a single :func:`reconcile` call."""

    old: Mapping[str, object]
    directory: Directory
    base: dict[str, object]
    updates: dict[Side, dict[str, str]] = field(default_factory=dict)
    changes: list[FieldChange] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    reverted: list[OwnedSetRevert] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    needs_history: bool = False

    def read(
        self, spec: FieldMapping, side: Side, record: DealRecord, other: DealRecord | None = None
    ) -> object:
        """``side``'s canonical value, or a rejection (whose reason shows the raw values seen
        on ``record`` and, when given, on the ``other`` side's record)."""
        raw = record.properties.get(spec.property_on(side))
        try:
            return spec.codec(side).read(raw)
        except RejectedValueError as exc:
            seen = {side: raw}
            if other is not None:
                seen[side.other] = other.properties.get(spec.property_on(side.other))
            reason = Reason(
                rule=spec.rule.value,
                decision=f"rejected: {exc}",
                partner_value=seen.get(Side.PARTNER),
                rep_value=seen.get(Side.REP),
                base_value=format_value(self.old.get(spec.name)),
                has_base=spec.name in self.old,
            )
            self.rejections.append(Rejection(spec.name, side, raw, reason))
            return UNREADABLE

    def write(self, spec: FieldMapping, side: Side, old: object, new: object, why: Reason) -> bool:
        """Plan ``new`` on ``side``; False (and a rejection) when the side cannot take it."""
        try:
            raw = spec.codec(side).write(new)
        except RejectedValueError as exc:
            reason = replace(why, decision=f"{why.decision}, but rejected: {exc}")
            self.rejections.append(Rejection(spec.name, side, format_value(new), reason))
            return False
        self.updates.setdefault(side, {})[spec.property_on(side)] = raw
        self.changes.append(FieldChange(spec.name, side, old, new, spec.rule.value, why))
        return True
