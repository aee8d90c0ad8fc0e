"""The pure reconciler: (partner, rep, base, mapping, directory, now) -> a plan. No I/O, no clock.

Per mapped field it reads three canonical values: the partner's ``p``, the rep's ``r`` and the base
``b`` (the value both last agreed on). Fields with direction ``none`` are never reconciled.

* **Unreadable** (malformed, or outside a side's value map): the field is rejected for this pair
  (a :class:`Rejection`); its base is kept and every other field still syncs. Likewise a value
  the receiving side's value map cannot express: a rejection on that side, nothing written.
* ``p == r``: nothing to write; the base moves to ``p`` (this is how the worker's own writes,
  echoed back by the CRM, plan nothing).
* **Who changed.** With a base, a side changed when its value differs from ``b``. Without one
  (first sync) a side with a value counts as changed and an empty side does not, so a value fills
  an empty counterpart and two different values are a conflict.
* **One side changed**: copy it to the other side if the direction allows; otherwise nothing and
  the base stays, so a one-way field's target keeps its own edit (never reverted).
* **Both changed differently**: the rule picks a winner. ``partner_wins`` / ``rep_wins``;
  ``newest_wins`` compares the per-property timestamps (``DealRecord.property_timestamps``); if
  either is missing it compares ``modified_at`` instead and sets ``needs_history`` so the engine
  re-reads with history and reconciles again (once). **Ties go to the partner.** ``manual``
  records a :class:`Conflict` and pushes nothing. ``set_on_create`` lets the side with a value
  win only over an empty side. A winner the direction does not let push does not push.
* ``set_on_create`` **only ever fills an empty side**, never writes over a value (a clear is
  never propagated either).
* ``owned_set``: see :mod:`sync_worker.rules.owned_set`; the merged set is written to every side
  that differs from it, and foreign edits undone are reported as :class:`OwnedSetRevert`. A
  ``deal_team`` field (collaborators, a derived display): see :mod:`sync_worker.rules.deal_team`.
* Nothing written, nothing moved: whenever no write happens the field's base is unchanged.
  Differences deliberately left alone are reported as :class:`Held` (for ``explain``).
* **Archived** on either side: a plan that writes nothing (the engine unlinks; deletes are
  never propagated), with ``archived_side`` set and the old base kept.

``new_base`` is the base to store once every update has landed; ``agreed_at`` becomes ``now``
when it changed. Creation (:func:`plan_creation`), per field: a ``set_on_create`` field with a
default on the target gets that default (a deal arriving in the partner account lands in the
referred-deals pipeline); else the origin's value if the direction lets it flow; else the
target's default, if any. An owned set is copied whole from the origin. The creation's base
holds the fields whose new value equals the origin's (the rest sync as if for the first time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sync_worker.kernel.canonical import format_value
from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.model import BySide, DealRecord, Side
from sync_worker.rules.builder import UNREADABLE, Builder
from sync_worker.rules.creation import plan_creation
from sync_worker.rules.deal_team import reconcile_team
from sync_worker.rules.mapping import Direction, FieldMapping, Rule, SyncMapping
from sync_worker.rules.owned_set import merge_owned_set
from sync_worker.rules.plan import (
    BaseSnapshot,
    Conflict,
    Directory,
    Held,
    OwnedSetRevert,
    PairPlan,
    Reason,
)

__all__ = ["plan_creation", "reconcile"]  # plan_creation lives in sync_worker.rules.creation


_EMPTY: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Facts:
    """The three values of one field of one pair, and the records they came from."""

    spec: FieldMapping
    p: object
    r: object
    b: object
    has_base: bool
    partner: DealRecord
    rep: DealRecord

    def value(self, side: Side) -> object:
        return BySide(self.p, self.r)[side]

    def reason(self, decision: str, stamps: tuple[datetime, datetime, str] | None = None) -> Reason:
        ts_p, ts_r, source = stamps if stamps else (None, None, None)
        return Reason(
            rule=self.spec.rule.value,
            decision=decision,
            partner_value=format_value(self.p),
            rep_value=format_value(self.r),
            base_value=format_value(self.b),
            has_base=self.has_base,
            partner_timestamp=ts_p,
            rep_timestamp=ts_r,
            timestamp_source=source,
        )


def reconcile(  # noqa: PLR0917 - the engine's call, fixed by the issue
    partner: DealRecord,
    rep: DealRecord,
    base: BaseSnapshot | None,
    mapping: SyncMapping,
    directory: Directory,
    now: datetime,
) -> PairPlan:
    """Decide what to write on each side of one linked pair (see the module docstring)."""
    old = base or BaseSnapshot(values={})
    if partner.archived or rep.archived:
        archived = Side.PARTNER if partner.archived else Side.REP
        return PairPlan(partner.id, rep.id, updates={}, new_base=old, archived_side=archived)
    out = Builder(old.values, directory, dict(old.values))
    for spec in mapping.fields:
        if spec.team is not None:
            reconcile_team(spec, partner, rep, out)
        elif spec.direction is not Direction.NONE:
            _reconcile_field(spec, partner, rep, out)
    changed = out.base != old.values
    return PairPlan(
        partner_id=partner.id,
        rep_id=rep.id,
        updates=out.updates,
        new_base=BaseSnapshot(out.base, now if changed else old.agreed_at),
        changes=tuple(out.changes),
        conflicts=tuple(out.conflicts),
        rejections=tuple(out.rejections),
        reverted=tuple(out.reverted),
        held=tuple(out.held),
        needs_history=out.needs_history,
        base_changed=changed,
    )


def _reconcile_field(
    spec: FieldMapping, partner: DealRecord, rep: DealRecord, out: Builder
) -> None:
    try:  # the hot path: no rejection bookkeeping unless a value is unreadable
        p = spec.codecs.partner.read(partner.properties.get(spec.partner))
        r = spec.codecs.rep.read(rep.properties.get(spec.rep))
    except RejectedValueError:
        p = out.read(spec, Side.PARTNER, partner, rep)
        r = out.read(spec, Side.REP, rep, partner)
        if p is UNREADABLE or r is UNREADABLE:
            return
    if p == r:
        out.base[spec.name] = p
        return
    old = out.old
    facts = _Facts(spec, p, r, old.get(spec.name), spec.name in old, partner, rep)
    if spec.rule is Rule.OWNED_SET:
        _owned_set(facts, out)
    else:
        _two_way(facts, out)


def _two_way(facts: _Facts, out: Builder) -> None:
    if facts.has_base:
        p_changed, r_changed = facts.p != facts.b, facts.r != facts.b
    else:
        p_changed, r_changed = facts.p is not None, facts.r is not None
    stamps = None
    if p_changed and r_changed:
        winner, decision, stamps = _settle(facts, out)
    else:
        winner = Side.PARTNER if p_changed else Side.REP
        decision = f"only the {winner} changed"
    if winner is None:
        _unsettled(facts, facts.reason(decision, stamps), out)
        return
    loser = winner.other
    if facts.spec.rule is Rule.SET_ON_CREATE and facts.value(loser) is not None:
        why = facts.reason(
            f"{decision}; set_on_create never overwrites the {loser}'s value", stamps
        )
        out.held.append(Held(facts.spec.name, why))
    elif not facts.spec.allows(winner):
        kept = f"{decision}; direction {facts.spec.direction} keeps the {winner}'s value there"
        out.held.append(Held(facts.spec.name, facts.reason(kept, stamps)))
    elif (default := _fill_default(facts.spec, loser)) is not None:
        # The other account's value (a pipeline id, say) means nothing here: use this side's own
        # default, as at creation. The sides then differ by design, so the base stays.
        why = facts.reason(f"{decision}; the {loser} is empty: its default fills it", stamps)
        out.write(facts.spec, loser, None, facts.spec.codec(loser).read(default), why)
    else:
        new = facts.value(winner)
        why = facts.reason(f"{decision}: copy to the {loser}", stamps)
        if out.write(facts.spec, loser, facts.value(loser), new, why):
            out.base[facts.spec.name] = new


def _fill_default(spec: FieldMapping, empty_side: Side) -> str | None:
    """The default that fills an empty ``set_on_create`` field on ``empty_side``, if any."""
    return spec.default(empty_side) if spec.rule is Rule.SET_ON_CREATE else None


def _unsettled(facts: _Facts, why: Reason, out: Builder) -> None:
    if facts.spec.rule is Rule.MANUAL:
        out.conflicts.append(Conflict(facts.spec.name, facts.p, facts.r, facts.b, why))
    else:
        out.held.append(Held(facts.spec.name, why))


_Settled = tuple[Side | None, str, tuple[datetime, datetime, str] | None]


def _settle(facts: _Facts, out: Builder) -> _Settled:
    """A conflict: which side's value the rule keeps (None: neither)."""
    rule = facts.spec.rule
    if rule is Rule.PARTNER_WINS:
        return Side.PARTNER, "both changed: the partner wins", None
    if rule is Rule.REP_WINS:
        return Side.REP, "both changed: the rep wins", None
    if rule is Rule.NEWEST_WINS:
        return _newest(facts, out)
    if rule is Rule.SET_ON_CREATE:
        if facts.p is None or facts.r is None:
            filled = Side.REP if facts.p is None else Side.PARTNER
            return (
                filled,
                f"both changed: set_on_create fills the empty side from the {filled}",
                None,
            )
        return None, "both changed: set_on_create never overwrites a value", None
    return None, "both changed: manual rule, left for a person", None


def _newest(facts: _Facts, out: Builder) -> _Settled:
    spec, partner, rep = facts.spec, facts.partner, facts.rep
    ts_p = partner.property_timestamps.get(spec.partner)
    ts_r = rep.property_timestamps.get(spec.rep)
    source = "property history"
    if ts_p is None or ts_r is None:
        out.needs_history = True
        ts_p, ts_r, source = partner.modified_at, rep.modified_at, "modified_at"
    winner = Side.REP if ts_r > ts_p else Side.PARTNER
    tie = " (a tie goes to the partner)" if ts_p == ts_r else ""
    return winner, f"both changed: the {winner}'s edit is newer{tie}", (ts_p, ts_r, source)


def _owned_set(facts: _Facts, out: Builder) -> None:
    spec = facts.spec
    base = facts.b if isinstance(facts.b, frozenset) else _EMPTY
    merge = merge_owned_set(_members(facts.p), _members(facts.r), base, out.directory)
    result = merge.result or None
    ok = True
    for side in Side:
        added, removed = merge.reverted(side)
        if added or removed:
            what = _revert_text(side, added, removed)
            out.reverted.append(OwnedSetRevert(spec.name, side, added, removed, facts.reason(what)))
        if facts.value(side) != result:
            why = facts.reason(f"owned_set merge: write the merged team to the {side}")
            ok = out.write(spec, side, facts.value(side), result, why) and ok
    if ok:
        out.base[spec.name] = result


def _members(value: object) -> frozenset[str]:
    return value if isinstance(value, frozenset) else _EMPTY


def _revert_text(side: Side, added: frozenset[str], removed: frozenset[str]) -> str:
    parts = [f"removed again {sorted(added)}"] if added else []
    parts += [f"restored {sorted(removed)}"] if removed else []
    return f"the {side} edited the {side.other}'s members: " + ", ".join(parts)
