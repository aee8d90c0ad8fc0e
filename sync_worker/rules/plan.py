"""What the reconciler decides: frozen plans whose every item carries a :class:`Reason`.

A :class:`PairPlan` says, for one linked pair, which raw property writes to make on each side,
what changed and why, which conflicts wait for a person, which values were rejected and which
foreign edits to an owned set were reverted, and the base to store once the writes have landed.
A :class:`CreationPlan` says what to create on the other side for a newly originated deal.

Values in :class:`FieldChange` and :class:`Conflict` are *canonical* (see
``sync_worker.kernel.canonical``); :func:`format_value` renders them for people. The :class:`Reason`
already holds display strings, so it can be logged or stored as is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from sync_worker.kernel.canonical import format_value, from_jsonable, to_jsonable
from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.model import Side
from sync_worker.rules.directory import Directory, Person
from sync_worker.rules.mapping import SyncMapping

__all__ = [
    "BaseSnapshot",
    "Conflict",
    "CreationPlan",
    "Directory",
    "FieldChange",
    "Held",
    "OwnedSetRevert",
    "PairPlan",
    "Person",
    "Reason",
    "Rejection",
    "creating_without",
    "format_value",
    "holding_back",
]

_BASE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class BaseSnapshot:
    """The last canonical value each field agreed on (a field absent = never agreed)."""

    values: Mapping[str, object]
    agreed_at: datetime | None = None

    def to_json(self) -> str:
        """Stable JSON (sorted keys, no spaces) for the state store."""
        document = {
            "format": _BASE_FORMAT,
            "agreed_at": None if self.agreed_at is None else format_value(self.agreed_at),
            "values": {name: to_jsonable(value) for name, value in self.values.items()},
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str, mapping: SyncMapping) -> BaseSnapshot:
        """Decode :meth:`to_json` output with ``mapping``'s field types.

        Values of fields the mapping no longer has, or that no longer decode as the field's
        type (its type was changed), are dropped: those fields sync as if for the first time.
        Raises ``ValueError`` when ``text`` is not a stored base at all.
        """
        document = json.loads(text)
        if not isinstance(document, dict) or not isinstance(document.get("values"), dict):
            raise ValueError("not a stored base: expected an object with 'values'")  # noqa: TRY004
        stored: dict[str, object] = document["values"]
        values: dict[str, object] = {}
        for spec in mapping.fields:
            if spec.name not in stored:
                continue
            try:
                values[spec.name] = from_jsonable(spec.type, stored[spec.name])
            except RejectedValueError:
                continue
        agreed = document.get("agreed_at")
        agreed_at = datetime.fromisoformat(agreed) if isinstance(agreed, str) else None
        return cls(values=values, agreed_at=agreed_at)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the reconciler decided something: the rule, the three values it saw (display
    strings), the timestamps it compared, and the decision in words."""

    rule: str
    decision: str
    partner_value: str | None = None
    rep_value: str | None = None
    base_value: str | None = None
    has_base: bool = False
    partner_timestamp: datetime | None = None
    rep_timestamp: datetime | None = None
    timestamp_source: str | None = None

    def describe(self) -> str:
        """One line for people, e.g. for ``explain``."""
        base = _quote(self.base_value) if self.has_base else "(none yet)"
        text = (
            f"rule {self.rule}: partner={_quote(self.partner_value)} "
            f"rep={_quote(self.rep_value)} base={base}"
        )
        if self.timestamp_source is not None:
            text += (
                f"; {self.timestamp_source} partner={_when(self.partner_timestamp)} "
                f"rep={_when(self.rep_timestamp)}"
            )
        return f"{text} -> {self.decision}"


def _quote(value: str | None) -> str:
    return "(empty)" if value is None else repr(value)


def _when(moment: datetime | None) -> str:
    return format_value(moment) or "(unknown)"


@dataclass(frozen=True, slots=True)
class FieldChange:
    """A write to ``side``: ``field`` goes from ``old`` to ``new`` (canonical values)."""

    field: str
    side: Side
    old: object
    new: object
    rule: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Conflict:
    """Both sides changed ``field`` differently and the rule (``manual``) leaves it to a person."""

    field: str
    partner_value: object
    rep_value: object
    base_value: object
    reason: Reason


@dataclass(frozen=True, slots=True)
class Rejection:
    """``field`` cannot be synced for this pair: ``raw_value`` on ``side`` is malformed or cannot
    be mapped. The rest of the pair's fields still sync."""

    field: str
    side: Side
    raw_value: str | None
    reason: Reason


@dataclass(frozen=True, slots=True)
class Held:
    """The sides differ on ``field`` but the rules deliberately leave it (a one-way field's
    target edited, a set-on-create field already set, a winner that may not push)."""

    field: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class OwnedSetRevert:
    """``side`` edited members of ``field`` that the other account owns; the edit is undone:
    ``added`` are removed again, ``removed`` are restored."""

    field: str
    side: Side
    added: frozenset[str]
    removed: frozenset[str]
    reason: Reason


@dataclass(frozen=True, slots=True)
class PairPlan:
    """Everything to do for one linked pair.

    ``updates`` holds raw property writes per side (only sides with writes; ``""`` clears).
    ``new_base`` is what to store *once every update has landed*; ``base_changed`` says whether
    it differs from the base given (store it even when there are no updates). ``needs_history``:
    a newest-wins conflict was settled with ``modified_at`` because a per-property timestamp was
    missing; re-read both records with history and reconcile again, once: if the timestamps are
    still missing, that second plan (settled by ``modified_at``) is final. ``archived_side``: a
    side is archived (partner when both are), so nothing is pushed and the engine unlinks.
    """

    partner_id: str
    rep_id: str
    updates: Mapping[Side, Mapping[str, str]]
    new_base: BaseSnapshot
    changes: tuple[FieldChange, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    reverted: tuple[OwnedSetRevert, ...] = ()
    held: tuple[Held, ...] = ()
    needs_history: bool = False
    base_changed: bool = False
    archived_side: Side | None = None

    @property
    def is_noop(self) -> bool:
        """Nothing to write and nothing to record (held differences do not count)."""
        return not (self.updates or self.conflicts or self.rejections) and (
            self.archived_side is None
        )


def holding_back(
    plan: PairPlan,
    side: Side,
    fields: Mapping[str, str],
    old_base: BaseSnapshot | None,
    refused: str,
) -> PairPlan:
    """``plan`` without its writes of ``fields`` (field name -> property) to ``side``, which the
    CRM refused. Those fields keep their old base, so the next plan tries again and an edit on
    either side is still seen as one; each becomes a rejection (dead-lettered with ``refused``).
    Every other write and decision of the plan stands."""
    properties = set(fields.values())
    updates = {
        s: {p: v for p, v in u.items() if not (s is side and p in properties)}
        for s, u in plan.updates.items()
    }
    old = dict(old_base.values) if old_base is not None else {}
    values = dict(plan.new_base.values)
    for name in fields:
        if name in old:
            values[name] = old[name]
        else:
            values.pop(name, None)
    sent = plan.updates.get(side, {})
    rejections = _refusals(plan.changes, side, fields, sent, refused)
    changed = values != old
    agreed_at = plan.new_base.agreed_at if changed else (old_base.agreed_at if old_base else None)
    return replace(
        plan,
        updates={s: u for s, u in updates.items() if u},
        new_base=BaseSnapshot(values, agreed_at),
        changes=tuple(c for c in plan.changes if not (c.side is side and c.field in fields)),
        rejections=plan.rejections + rejections,
        base_changed=changed,
    )


@dataclass(frozen=True, slots=True)
class CreationPlan:
    """Create the counterpart of ``origin_id`` (on ``origin_side``) on ``target_side``.

    Upsert ``properties`` keyed by ``key`` (the origin's id) in the unique ``id_property`` (the
    target's link property); store ``new_base`` for the new link once it exists.
    ``origin_updates`` are written to the origin with its link back (a deal team's display).
    """

    origin_side: Side
    origin_id: str
    target_side: Side
    key: str
    id_property: str
    properties: Mapping[str, str]
    new_base: BaseSnapshot
    changes: tuple[FieldChange, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    origin_updates: Mapping[str, str] = field(default_factory=dict)


def creating_without(plan: CreationPlan, fields: Mapping[str, str], refused: str) -> CreationPlan:
    """``plan`` without ``fields`` (field name -> property), whose values the CRM refused: the
    counterpart is created without them, they stay unagreed (no base, so the next plan tries
    again) and each becomes a rejection. The link property and the constants stay."""
    properties = set(fields.values())
    rejections = _refusals(plan.changes, plan.target_side, fields, plan.properties, refused)
    return replace(
        plan,
        properties={p: v for p, v in plan.properties.items() if p not in properties},
        new_base=BaseSnapshot(
            {k: v for k, v in plan.new_base.values.items() if k not in fields},
            plan.new_base.agreed_at,
        ),
        changes=tuple(c for c in plan.changes if c.field not in fields),
        rejections=plan.rejections + rejections,
    )


def _refusals(
    changes: Iterable[FieldChange],
    side: Side,
    fields: Mapping[str, str],
    sent: Mapping[str, str],
    refused: str,
) -> tuple[Rejection, ...]:
    """A rejection per refused field, carrying the decision that planned the write (if any)."""
    why = {c.field: c.reason for c in changes if c.side is side and c.field in fields}
    return tuple(
        Rejection(name, side, sent.get(prop), _refused_reason(why.get(name), refused))
        for name, prop in fields.items()
    )


def _refused_reason(why: Reason | None, refused: str) -> Reason:
    decision = why.decision if why is not None else "write"
    return replace(
        why or Reason(rule="-", decision=decision),
        decision=f"{decision}, but the CRM refused it: {refused}",
    )
