"""The ledger of one page: the page's findings plus the push's outcome become one atomic
:class:`PageCommit`, and the page's :class:`Tally` is derived from them.

A pair's new base is recorded only if every write of that pair landed; otherwise its old base
stays and the record whose write failed is dead-lettered, so the next attempt plans the same
writes again. Every applied change goes to the audit log (for ``explain``) and to the log as an
event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog

from sync_worker.kernel.model import BySide, DealRecord, Side
from sync_worker.rules.mapping import Rule
from sync_worker.rules.plan import FieldChange, PairPlan, Rejection, format_value
from sync_worker.state.base import (
    ChangeEntry,
    ConflictEntry,
    DeadLetter,
    LinkState,
    LinkStatus,
    PageCommit,
    Taken,
)
from sync_worker.sync.context import PairContext
from sync_worker.sync.push import CreationOutcome, Pair, PairOutcome, PushOutcome, Write
from sync_worker.sync.sorting import fingerprint
from sync_worker.sync.tally import Skip, Tally

log = structlog.stdlib.get_logger("sync_worker.changes")


@dataclass(slots=True)
class PageLedger:
    """What one page found and decided, turned into one :class:`PageCommit` by :meth:`settle`.

    The page's own processor fills it (records skipped, letters, links kept) and hands it the
    push's outcome; nothing else writes to it, and it writes nothing but the commit it returns.
    """

    ctx: PairContext
    run_id: str
    side: Side
    cursor: datetime | None
    now: datetime
    attempts: Mapping[tuple[Side, str], int] = field(default_factory=dict)
    retry_base_seconds: float = 300.0
    links: list[LinkState] = field(default_factory=list)
    changes: list[ChangeEntry] = field(default_factory=list)
    conflicts: list[ConflictEntry] = field(default_factory=list)
    closed: list[tuple[str, str]] = field(default_factory=list)
    dead: dict[tuple[Side, str], DeadLetter] = field(default_factory=dict)
    rejected: set[tuple[Side, str]] = field(default_factory=set)
    resolved: set[tuple[Side, str]] = field(default_factory=set)
    pending_done: list[tuple[Side, str]] = field(default_factory=list)
    taken: list[Taken] = field(default_factory=list)
    """Inbox entries the page read: drained by its commit."""
    skipped: dict[Skip, int] = field(default_factory=dict)
    reverted: int = 0
    linked: int = 0

    # --- record-level findings --------------------------------------------------------------

    def skip(self, why: Skip, n: int = 1) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + n

    def resolve(self, side: Side, ids: Iterable[str]) -> None:
        self.resolved.update((side, i) for i in ids)

    def keep_link(self, link: LinkState) -> None:
        """Store ``link`` as given (a tombstone, or a link whose fingerprints were forgotten)."""
        self.links.append(link)

    def reject(self, side: Side, record_id: str, reason: str) -> None:
        """A record this pair cannot sync as it stands (a bad claim, a failed creation)."""
        self.rejected.add((side, record_id))
        self.dead_letter(side, record_id, reason)

    def dead_letter(self, side: Side, record_id: str, reason: str) -> None:
        """Record a failure. A letter being retried continues its backoff; a record that failed
        again because it changed starts a fresh backoff (the store still counts every attempt)."""
        page = self
        attempts = page.attempts.get((side, record_id), 0) + 1
        parked = attempts >= self.ctx.dead_letter_max_attempts
        page.dead[(side, record_id)] = DeadLetter(
            side=side,
            record_id=record_id,
            reason=reason,
            attempts=attempts,
            first_at=page.now,
            last_at=page.now,
            next_attempt_at=None
            if parked
            else page.now + _backoff(attempts, self.retry_base_seconds),
        )
        page.resolved.discard((side, record_id))
        log.warning(
            "record_dead_lettered",
            side=str(side),
            deal_id=record_id,
            reason=reason,
            attempts=attempts,
            parked=parked,
        )

    # --- the push's outcome -----------------------------------------------------------------

    def settle(self, outcome: PushOutcome) -> None:
        for pair in outcome.pairs:
            self._settle_pair(pair)
        for creation in outcome.creations:
            self._settle_creation(creation)

    def _settle_pair(self, outcome: PairOutcome) -> None:
        pair, plan = outcome.planned.pair, outcome.planned.plan
        ids = BySide(pair.partner.id, pair.rep.id)
        if any(w.gone for _, w in outcome.writes.items()):
            self._gone_during_write(pair, ids)
            return
        if pair.link is None:  # a new link: neither deal is a creation in flight any more
            self.pending_done += [(s, ids[s]) for s in Side]
        failed = {s: w.failure for s, w in outcome.writes.items() if w.failure is not None}
        written = BySide.build(lambda s: _newest_seen(outcome.writes[s].written, pair, s))
        seen: BySide[str | None] = BySide.build(
            lambda s: self._seen(
                pair.record(s).properties, None if s in failed else outcome.writes[s].sent, s
            )
        )
        if failed:
            for side, reason in failed.items():
                self.dead_letter(side, ids[side], f"write rejected: {reason}")
            # Keep the old base (the next attempt plans the same writes) but remember what each
            # side holds, so re-pulling them unchanged waits for the letter's retry instead of
            # re-sending the rejected write every cycle.
            link = pair.link or LinkState(ids.partner, ids.rep)
            self.links.append(
                replace(
                    link,
                    partner_written_at=written.partner,
                    rep_written_at=written.rep,
                    partner_seen=seen.partner,
                    rep_seen=seen.rep,
                    origin=pair.origin or link.origin,
                    out_of_scope=None,
                )
            )
            return
        link = _active_link(ids, plan.new_base.to_json(), self.now, written, seen)
        self.links.append(replace(link, origin=pair.origin))
        if pair.link is None:
            self.linked += 1
        self._record_plan(ids, plan)

    def _settle_creation(self, outcome: CreationOutcome) -> None:
        plan, created = outcome.plan, outcome.created
        origin, target = plan.origin_side, plan.target_side
        if created is None:
            reason = outcome.failure or "the CRM returned no record"
            self.reject(origin, plan.origin_id, f"creating counterpart: {reason}")
            return
        ids = BySide(plan.origin_id, plan.origin_id).with_value(target, created.id)
        back: Write = outcome.link_back
        nothing: BySide[str | None] = BySide(None, None)
        seen = nothing.with_value(target, self._seen(plan.properties, None, target))
        if back.failure is not None:
            reason = f"writing the link back failed: {back.failure}"
            self.dead_letter(origin, plan.origin_id, reason)
        else:
            seen = seen.with_value(origin, self._seen(outcome.origin.properties, back.sent, origin))
        modified = outcome.origin.modified_at
        written = BySide(created.modified_at, created.modified_at).with_value(
            origin, _latest(back.written, modified)
        )
        link = _active_link(ids, plan.new_base.to_json(), self.now, written, seen)
        self.links.append(replace(link, origin=origin))
        self.pending_done.append((origin, plan.origin_id))
        self.linked += 1
        self._changes(ids, plan.changes)
        self._rejections(ids, plan.rejections)

    def _seen(
        self,
        properties: Mapping[str, str | None],
        written: Mapping[str, str] | None,
        side: Side,
    ) -> str:
        merged = {**properties, **(written or {})}
        return fingerprint(merged, side, self.ctx.mapping)

    def _gone_during_write(self, pair: Pair, ids: BySide[str]) -> None:
        link = pair.link or LinkState(ids.partner, ids.rep)
        log.warning("counterpart_gone", partner_id=ids.partner, rep_id=ids.rep)
        self.links.append(
            LinkState(link.partner_id, link.rep_id, LinkStatus.GONE, link.base_json, link.base_at)
        )

    def _record_plan(self, ids: BySide[str], plan: PairPlan) -> None:
        self._changes(ids, plan.changes)
        for conflict in plan.conflicts:
            self.conflicts.append(
                ConflictEntry(
                    partner_id=ids[Side.PARTNER],
                    rep_id=ids[Side.REP],
                    field=conflict.field,
                    partner_value=format_value(conflict.partner_value),
                    rep_value=format_value(conflict.rep_value),
                    base_value=format_value(conflict.base_value),
                    detected_at=self.now,
                )
            )
            log.warning(
                "conflict_recorded",
                partner_id=ids[Side.PARTNER],
                rep_id=ids[Side.REP],
                field=conflict.field,
                reason=conflict.reason.describe(),
            )
        in_conflict = {c.field for c in plan.conflicts}
        self.closed += [
            (ids[Side.PARTNER], f.name)
            for f in self.ctx.mapping.fields
            if f.rule is Rule.MANUAL and f.name not in in_conflict
        ]
        for revert in plan.reverted:
            log.warning(
                "owned_set_edit_reverted",
                partner_id=ids[Side.PARTNER],
                rep_id=ids[Side.REP],
                field=revert.field,
                edited_by=str(revert.side),
                added=sorted(revert.added),
                removed=sorted(revert.removed),
                reason=revert.reason.decision,
            )
            self.reverted += 1
        self._rejections(ids, plan.rejections)

    def _changes(self, ids: BySide[str], changes: Iterable[FieldChange]) -> None:
        for change in changes:
            entry = ChangeEntry(
                partner_id=ids[Side.PARTNER],
                rep_id=ids[Side.REP],
                side_written=change.side,
                field=change.field,
                old_value=format_value(change.old),
                new_value=format_value(change.new),
                rule=change.rule,
                reason=change.reason.describe(),
                at=self.now,
                run_id=self.run_id,
            )
            self.changes.append(entry)
            log.info(
                "field_changed",
                partner_id=entry.partner_id,
                rep_id=entry.rep_id,
                side=str(change.side),
                field=change.field,
                old=entry.old_value,
                new=entry.new_value,
                rule=change.rule,
                reason=entry.reason,
            )

    def _rejections(self, ids: BySide[str], rejections: Iterable[Rejection]) -> None:
        """One letter per rejected record, naming every rejected field; the other side's
        letter (if any) is resolved."""
        reasons: dict[Side, list[str]] = {}
        for rejection in rejections:
            reasons.setdefault(rejection.side, []).append(
                f"field {rejection.field}: {rejection.reason.describe()}"
            )
        for side, lines in reasons.items():
            self.dead_letter(side, ids[side], " | ".join(lines))
        for side in Side:
            if side not in reasons:
                self.resolved.add((side, ids[side]))

    # --- the commit -------------------------------------------------------------------------

    def commit(self) -> PageCommit:
        """Everything this page changes, as one atomic commit."""
        return PageCommit(
            links=self.links,
            changes=self.changes,
            conflicts=self.conflicts,
            closed_conflicts=self.closed,
            dead_letters=list(self.dead.values()),
            resolved_dead_letters=sorted(self.resolved - set(self.dead)),
            pending_done=self.pending_done,
            cursor_side=self.side if self.cursor is not None else None,
            cursor=self.cursor,
            taken=self.taken,
        )

    def tally(self, commit: PageCommit, outcome: PushOutcome, *, pulled: int) -> Tally:
        """The page's counts, derived from what it commits and what its push did."""
        updated = BySide.build(
            lambda s: (
                sum(1 for p in outcome.pairs if p.writes[s].written is not None)
                + sum(
                    1
                    for c in outcome.creations
                    if c.plan.origin_side is s and c.link_back.written is not None
                )
            )
        )
        created = BySide.build(
            lambda s: sum(
                1 for c in outcome.creations if c.plan.target_side is s and c.created is not None
            )
        )
        return Tally(
            pulled=BySide(0, 0).with_value(self.side, pulled),
            created=created,
            updated=updated,
            fields_changed=len(commit.changes),
            conflicts=len(commit.conflicts),
            dead_lettered=len(commit.dead_letters),
            rejected=len(self.rejected),
            gone=sum(1 for link in commit.links if link.status is LinkStatus.GONE),
            linked=self.linked,
            reverted=self.reverted,
            reconciled=len(outcome.pairs),
            write_failed=sum(
                1 for p in outcome.pairs for _, w in p.writes.items() if w.failure is not None
            )
            + sum(1 for c in outcome.creations if c.link_back.failure is not None),
            skipped=dict(self.skipped),
        )


def _active_link(
    ids: BySide[str],
    base_json: str,
    now: datetime,
    written: BySide[datetime],
    seen: BySide[str | None],
) -> LinkState:
    """The link of a pair whose writes all landed: its new base and what each side now holds."""
    return LinkState(
        partner_id=ids.partner,
        rep_id=ids.rep,
        status=LinkStatus.ACTIVE,
        base_json=base_json,
        base_at=now,
        partner_written_at=written.partner,
        rep_written_at=written.rep,
        partner_seen=seen.partner,
        rep_seen=seen.rep,
    )


def _newest_seen(written: DealRecord | None, pair: Pair, side: Side) -> datetime:
    """The newest version of ``side``'s deal the worker has reconciled or written: any snapshot
    older than it (a page fetched before) is stale and must not be acted on."""
    moments = [pair.record(side).modified_at]
    if pair.link is not None and (known := pair.link.written_at(side)) is not None:
        moments.append(known)
    if written is not None:
        moments.append(written.modified_at)
    return max(moments)


def _latest(written: DealRecord | None, seen: datetime) -> datetime:
    return max(seen, written.modified_at) if written is not None else seen


def _backoff(attempts: int, base_seconds: float) -> timedelta:
    return timedelta(seconds=min(6 * 3600.0, base_seconds * 2 ** max(0, attempts - 1)))
