"""Settling a conflict by hand: take one side's value, write it to the other, record it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sync_worker.connectors.base import RecordUpdate
from sync_worker.kernel.errors import ConflictNotFound, WriteRefused
from sync_worker.kernel.model import BySide, Side
from sync_worker.rules.plan import BaseSnapshot, format_value
from sync_worker.state.base import ChangeEntry, ConflictEntry, LinkState, PageCommit
from sync_worker.sync.context import PairContext


class Take(StrEnum):
    """How a person settles a conflict."""

    PARTNER = "partner"
    REP = "rep"
    DISMISS = "dismiss"


@dataclass(frozen=True, slots=True)
class Resolution:
    conflict: ConflictEntry
    taken: str
    written_to: Side | None
    value: str | None


def resolve_conflict(ctx: PairContext, conflict_id: int, take: Take, *, run_id: str) -> Resolution:
    """Close conflict ``conflict_id`` by taking a side or dismissing it.

    Taking a side reads that side's *current* value, writes it to the other side, stores it as
    the new base and logs the change. Raises ConflictNotFound for an unknown id and WriteRefused
    when the write cannot be made (the conflict then stays open).
    """
    conflict = next((c for c in ctx.store.open_conflicts(ctx.name) if c.id == conflict_id), None)
    if conflict is None:
        raise ConflictNotFound(conflict_id, ctx.name)
    if take is Take.DISMISS:
        ctx.store.resolve_conflict(conflict_id, "dismissed", ctx.clock.now())
        return Resolution(conflict, "dismissed", None, None)
    winner = Side(take.value)
    value = _write_winner(ctx, conflict, winner, run_id)
    ctx.store.resolve_conflict(conflict_id, take.value, ctx.clock.now())
    return Resolution(conflict, take.value, winner.other, value)


def _write_winner(
    ctx: PairContext, conflict: ConflictEntry, winner: Side, run_id: str
) -> str | None:
    spec = ctx.mapping.field(conflict.field)
    loser = winner.other
    link = ctx.store.find_link(ctx.name, conflict.partner_id)
    if link is None:
        raise WriteRefused(conflict.partner_id, "its deals are no longer linked", side="partner")
    ids = {Side.PARTNER: link.partner_id, Side.REP: link.rep_id}
    read = ctx.connector(winner).read([ids[winner]], ctx.mapping.properties(winner))
    record = read.found.get(ids[winner])
    if record is None:
        raise WriteRefused(ids[winner], "the deal is archived or deleted", side=str(winner))
    value = spec.codec(winner).read(record.properties.get(spec.property_on(winner)))
    raw = spec.codec(loser).write(value)
    result = ctx.connector(loser).update([RecordUpdate(ids[loser], {spec.property_on(loser): raw})])
    if ids[loser] not in result.written:
        reason = result.failed[0].reason if result.failed else "not written"
        raise WriteRefused(ids[loser], reason, side=str(loser))
    _commit(ctx, link, conflict, loser=loser, value=value, run_id=run_id)
    return format_value(value)


def _commit(
    ctx: PairContext,
    link: LinkState,
    conflict: ConflictEntry,
    *,
    loser: Side,
    value: object,
    run_id: str,
) -> None:
    now = ctx.clock.now()
    base = BaseSnapshot.from_json(link.base_json, ctx.mapping) if link.base_json else None
    values = dict(base.values) if base else {}
    values[conflict.field] = value
    new_link = LinkState(
        link.partner_id,
        link.rep_id,
        link.status,
        BaseSnapshot(values, now).to_json(),
        now,
        link.partner_written_at,
        link.rep_written_at,
    )
    old = BySide(conflict.partner_value, conflict.rep_value)[loser]
    change = ChangeEntry(
        partner_id=link.partner_id,
        rep_id=link.rep_id,
        side_written=loser,
        field=conflict.field,
        old_value=old,
        new_value=format_value(value),
        rule="manual",
        reason=f"conflict {conflict.id} resolved by a person: took the {loser.other}'s value",
        at=now,
        run_id=run_id,
    )
    ctx.store.commit_page(ctx.name, PageCommit(links=[new_link], changes=[change]))
