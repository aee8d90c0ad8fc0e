"""``explain``: why does (or would) this field change? The rule, the three values, the time.

Reads both deals of a link as they are now, reconciles them against the stored base exactly as
a cycle would (nothing is written), and pairs each field's decision with the audit log of
changes the worker actually made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sync_worker.kernel.errors import RejectedValueError
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.deal_team import member_ids
from sync_worker.rules.mapping import FieldMapping
from sync_worker.rules.plan import BaseSnapshot, Directory, PairPlan, format_value
from sync_worker.rules.reconcile import reconcile
from sync_worker.state.base import ChangeEntry, ConflictEntry, LinkState, LinkStatus
from sync_worker.sync.context import PairContext
from sync_worker.sync.scoping import ScopeJudge
from sync_worker.sync.team import Directories


@dataclass(frozen=True, slots=True)
class FieldExplanation:
    field: str
    rule: str
    direction: str
    partner_value: str | None
    rep_value: str | None
    base_value: str | None
    decision: str


@dataclass(frozen=True, slots=True)
class Explanation:
    pair: str
    deal_id: str
    link: LinkState | None
    fields: tuple[FieldExplanation, ...] = ()
    base_at: datetime | None = None
    history: tuple[ChangeEntry, ...] = ()
    conflicts: tuple[ConflictEntry, ...] = ()
    note: str | None = None


def explain(ctx: PairContext, deal_id: str) -> Explanation:
    """Explain the shared deal holding ``deal_id`` (a partner or rep deal id)."""
    link = ctx.store.find_link(ctx.name, deal_id)
    if link is None:
        return Explanation(
            ctx.name, deal_id, None, note="not linked: the worker has not paired this deal yet"
        )
    history = tuple(ctx.store.changes_for(ctx.name, link.partner_id))
    conflicts = tuple(
        c for c in ctx.store.open_conflicts(ctx.name) if c.partner_id == link.partner_id
    )
    records = {side: _read_one(ctx, side, link.id_on(side)) for side in Side}
    partner, rep = records[Side.PARTNER], records[Side.REP]
    if partner is None or rep is None:
        gone = "partner" if partner is None else "rep"
        tombstone = f"the {gone} deal is archived or deleted; the link is kept as a tombstone"
        return Explanation(ctx.name, deal_id, link, history=history, note=tombstone)
    base = BaseSnapshot.from_json(link.base_json, ctx.mapping) if link.base_json else None
    directories = Directories(ctx)
    directories.cover([(Side.PARTNER, partner), (Side.REP, rep)])
    directory = directories.current()
    plan = reconcile(partner, rep, base, ctx.mapping, directory, ctx.clock.now())
    deals = {Side.PARTNER: partner, Side.REP: rep}
    fields = tuple(_field(spec, deals, base, plan, directory) for spec in ctx.mapping.fields)
    active = link.status is LinkStatus.ACTIVE
    note: str | None = None if active else f"link status: {link.status}"
    if active and (stopped := _out_of_scope(ctx, link, partner, rep)):
        note = f"not syncing: {stopped}; nothing flows until it is back in scope"
        fields = tuple(
            replace(f, decision=f"held while out of scope (then: {f.decision})") for f in fields
        )
    return Explanation(
        ctx.name,
        deal_id,
        link,
        fields,
        base.agreed_at if base else None,
        history,
        conflicts,
        note=note,
    )


def _out_of_scope(
    ctx: PairContext, link: LinkState, partner: DealRecord, rep: DealRecord
) -> str | None:
    """Why the pair is not syncing now (a deal out of scope, naming the filter), else None."""
    judge = ScopeJudge(ctx)
    return judge.pair_problem(partner, rep, judge.origin(partner, link))


def _read_one(ctx: PairContext, side: Side, deal_id: str) -> DealRecord | None:
    result = ctx.connector(side).read([deal_id], ctx.mapping.properties(side), with_history=True)
    return result.found.get(deal_id)


def _field(
    spec: FieldMapping,
    records: Mapping[Side, DealRecord],
    base: BaseSnapshot | None,
    plan: PairPlan,
    directory: Directory,
) -> FieldExplanation:
    shown = {
        side: _members(spec, side, records[side], directory)
        if spec.team is not None
        else _shown(spec, side, records[side])
        for side in Side
    }
    return FieldExplanation(
        field=spec.name,
        rule=spec.rule.value,
        direction=spec.direction.value,
        partner_value=shown[Side.PARTNER],
        rep_value=shown[Side.REP],
        base_value=format_value(base.values.get(spec.name)) if base else None,
        decision=_decision(spec, plan),
    )


def _shown(spec: FieldMapping, side: Side, record: DealRecord) -> str | None:
    raw = record.properties.get(spec.property_on(side))
    try:
        return format_value(spec.codec(side).read(raw))
    except RejectedValueError:
        return f"{raw!r} (unreadable)"


def _members(spec: FieldMapping, side: Side, record: DealRecord, directory: Directory) -> str:
    """A deal team's own members on ``side``: its collaborators (and deal owner, if counted) by
    email; a deactivated or unknown owner id is named as such."""
    people = directory.people(side)
    shown = []
    for owner_id in sorted(member_ids(spec, side, record)):
        person = people.get(owner_id)
        if person is None:
            shown.append(f"owner {owner_id} (unknown)")
        else:
            shown.append(person.email + ("" if person.active else " (deactivated)"))
    return ";".join(sorted(shown)) or "(none)"


def _decision(spec: FieldMapping, plan: PairPlan) -> str:
    for group in (plan.changes, plan.conflicts, plan.rejections, plan.reverted, plan.held):
        for item in group:
            if item.field == spec.name:
                return item.reason.describe()
    if spec.direction.value == "none":
        return "not synced (direction none)"
    return "in sync: nothing to do"
