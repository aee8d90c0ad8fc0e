"""Settling a conflict by hand: take one side's value, write it to the other, record it."""

from __future__ import annotations

from dataclasses import dataclass

from sync_worker.connectors.base import RecordUpdate
from sync_worker.kernel.errors import ConfigError, RecordRejected, SyncError
from sync_worker.kernel.model import Side
from sync_worker.rules.plan import BaseSnapshot, format_value
from sync_worker.state.base import ChangeEntry, ConflictEntry, LinkState, PageCommit
from sync_worker.sync.context import PairContext


class ConflictNotOpen(SyncError, LookupError):
    """No open conflict has this id in this pair (a typo, or it was resolved already)."""

    def __init__(self, conflict_id: int, pair: str) -> None:
        super().__init__(f"no open conflict {conflict_id} in pair {pair} (see `conflicts list`)")


@dataclass(frozen=True, slots=True)
class Resolution:
    conflict: ConflictEntry
    taken: str
    written_to: Side | None
    value: str | None


def resolve_conflict(ctx: PairContext, conflict_id: int, take: str, *, run_id: str) -> Resolution:
    """Close conflict ``conflict_id``: ``take`` is ``partner``, ``rep`` or ``dismiss``.

    Taking a side reads that side's *current* value, writes it to the other side, stores it as
    the new base and logs the change. Raises ConflictNotOpen for an unknown id, ConfigError for
    an unknown choice and
    RecordRejected when the CRM refuses the write (the conflict then stays open).
    """
    conflict = next((c for c in ctx.store.open_conflicts(ctx.name) if c.id == conflict_id), None)
    if conflict is None:
        raise ConflictNotOpen(conflict_id, ctx.name)
    if take == "dismiss":
        ctx.store.resolve_conflict(conflict_id, "dismissed", ctx.clock.now())
        return Resolution(conflict, "dismissed", None, None)
    if take not in ("partner", "rep"):
        raise ConfigError(f"--take must be partner, rep or dismiss, not {take!r}")
    winner = Side(take)
    value = _write_winner(ctx, conflict, winner, run_id)
    ctx.store.resolve_conflict(conflict_id, take, ctx.clock.now())
    return Resolution(conflict, take, winner.other, value)


def _write_winner(
    ctx: PairContext, conflict: ConflictEntry, winner: Side, run_id: str
) -> str | None:
    spec = ctx.mapping.field(conflict.field)
    loser = winner.other
    link = ctx.store.find_link(ctx.name, conflict.partner_id)
    if link is None:
        reason = f"the deals of conflict {conflict.id} are no longer linked"
        raise RecordRejected(conflict.partner_id, reason, side=str(Side.PARTNER))
    ids = {Side.PARTNER: link.partner_id, Side.REP: link.rep_id}
    read = ctx.connector(winner).read([ids[winner]], ctx.mapping.properties(winner))
    record = read.found.get(ids[winner])
    if record is None:
        raise RecordRejected(ids[winner], "the deal is archived or deleted", side=str(winner))
    value = spec.codec(winner).read(record.properties.get(spec.property_on(winner)))
    raw = spec.codec(loser).write(value)
    result = ctx.connector(loser).update([RecordUpdate(ids[loser], {spec.property_on(loser): raw})])
    if ids[loser] not in result.written:
        reason = result.failed[0].reason if result.failed else "not written"
        raise RecordRejected(ids[loser], reason, side=str(loser))
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
    old = conflict.partner_value if loser is Side.PARTNER else conflict.rep_value
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
