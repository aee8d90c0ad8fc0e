"""The ledger of one page: what landed becomes one atomic :class:`PageCommit`.

A pair's new base is recorded only if every write of that pair landed; otherwise its old base
stays and the record whose write failed is dead-lettered, so the next attempt plans the same
writes again. Every applied change goes to the audit log (for ``explain``) and to the log as an
event. In a dry run nothing is committed: the changes are kept for the report instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import Rule
from sync_worker.rules.plan import CreationPlan, PairPlan, Rejection, format_value
from sync_worker.state.base import ChangeEntry, ConflictEntry, DeadLetter, LinkState, PageCommit
from sync_worker.sync.context import PairContext
from sync_worker.sync.sorting import fingerprint

if TYPE_CHECKING:
    from sync_worker.rules.plan import FieldChange
    from sync_worker.sync.push import Landed, Pair

log = structlog.stdlib.get_logger("sync_worker.changes")

Sent = Mapping[Side, Mapping[str, Mapping[str, str]]]
"""The property writes sent per side, by record id."""


@dataclass(slots=True)
class _Page:
    side: Side
    cursor: datetime | None
    now: datetime
    attempts: dict[tuple[Side, str], int]
    links: list[LinkState] = field(default_factory=list)
    changes: list[ChangeEntry] = field(default_factory=list)
    conflicts: list[ConflictEntry] = field(default_factory=list)
    closed: list[tuple[str, str]] = field(default_factory=list)
    dead: dict[tuple[Side, str], DeadLetter] = field(default_factory=dict)
    resolved: set[tuple[Side, str]] = field(default_factory=set)
    pending_done: list[tuple[Side, str]] = field(default_factory=list)


@dataclass(slots=True)
class Ledger:
    """Accumulates one page's outcome, then commits it (or, in a dry run, reports it)."""

    ctx: PairContext
    run_id: str
    counts: Counter[str]
    dry_run: bool = False
    retry_base_seconds: float = 300.0
    planned: list[ChangeEntry] = field(default_factory=list)
    _page: _Page | None = None

    @property
    def page(self) -> _Page:
        if self._page is None:
            raise RuntimeError("Ledger.begin() was not called for this page")
        return self._page

    def begin(
        self, side: Side, cursor: datetime | None, now: datetime, attempts: Mapping[str, int]
    ) -> None:
        self._page = _Page(side, cursor, now, {(side, i): n for i, n in attempts.items()})

    # --- record-level outcomes --------------------------------------------------------------

    def resolve(self, side: Side, ids: Iterable[str]) -> None:
        self.page.resolved.update((side, i) for i in ids)

    def keep_link(self, link: LinkState) -> None:
        """Store ``link`` as given (a tombstone, or a link whose fingerprints were forgotten)."""
        self.page.links.append(link)

    def dead_letter(self, side: Side, record_id: str, reason: str) -> None:
        """Record a failure. A letter being retried continues its backoff; a record that failed
        again because it changed starts a fresh backoff (the store still counts every attempt)."""
        page = self.page
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
        self.counts["dead_lettered"] += 1
        log.warning(
            "record_dead_lettered",
            side=str(side),
            deal_id=record_id,
            reason=reason,
            attempts=attempts,
            parked=parked,
        )

    # --- pairs ------------------------------------------------------------------------------

    def settle_pair(
        self,
        pair: Pair,
        plan: PairPlan,
        landed: Mapping[Side, Landed],
        sent: Sent,
        now: datetime,
    ) -> None:
        ids = {Side.PARTNER: pair.partner.id, Side.REP: pair.rep.id}
        if any(ids[s] in landed[s].gone for s in Side):
            self._gone_during_write(pair, ids)
            return
        if pair.link is None:  # a new link: neither deal is a creation in flight any more
            self.page.pending_done += [(s, ids[s]) for s in Side]
        failed = {s: landed[s].failed[ids[s]] for s in Side if ids[s] in landed[s].failed}
        written = {s: _newest_seen(landed[s].written.get(ids[s]), pair, s) for s in Side}
        seen = {
            s: self._seen(
                pair.record(s).properties, None if s in failed else sent[s].get(ids[s]), s
            )
            for s in Side
        }
        if failed:
            for side, reason in failed.items():
                self.dead_letter(side, ids[side], f"write rejected: {reason}")
            # Keep the old base (the next attempt plans the same writes) but remember what each
            # side holds, so re-pulling them unchanged waits for the letter's retry instead of
            # re-sending the rejected write every cycle.
            link = pair.link or LinkState(ids[Side.PARTNER], ids[Side.REP])
            self.page.links.append(
                replace(
                    link,
                    partner_written_at=written[Side.PARTNER],
                    rep_written_at=written[Side.REP],
                    partner_seen=seen[Side.PARTNER],
                    rep_seen=seen[Side.REP],
                    origin=pair.origin or link.origin,
                    out_of_scope=None,
                )
            )
            return
        link = _active_link(ids, plan.new_base.to_json(), now, written, seen)
        self.page.links.append(replace(link, origin=pair.origin))
        if pair.link is None:
            self.counts["linked"] += 1
        self._record_plan(ids, plan)

    def settle_creation(
        self,
        plan: CreationPlan,
        origin_record: DealRecord,
        created: DealRecord,
        *,
        landed: Mapping[Side, Landed],
        sent: Sent,
        now: datetime,
    ) -> None:
        origin, target = plan.origin_side, plan.target_side
        ids = {origin: plan.origin_id, target: created.id}
        back = landed[origin]
        seen: dict[Side, str | None] = {target: self._seen(plan.properties, None, target)}
        if plan.origin_id in back.failed:
            reason = f"writing the link back failed: {back.failed[plan.origin_id]}"
            self.dead_letter(origin, plan.origin_id, reason)
            seen[origin] = None
        else:
            seen[origin] = self._seen(
                origin_record.properties, sent[origin].get(ids[origin]), origin
            )
        written = {
            origin: _latest(back.written.get(plan.origin_id), origin_record.modified_at),
            target: created.modified_at,
        }
        link = _active_link(ids, plan.new_base.to_json(), now, written, seen)
        self.page.links.append(replace(link, origin=origin))
        self.page.pending_done.append((origin, plan.origin_id))
        self.counts["linked"] += 1
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

    def _gone_during_write(self, pair: Pair, ids: Mapping[Side, str]) -> None:
        link = pair.link or LinkState(ids[Side.PARTNER], ids[Side.REP])
        log.warning("counterpart_gone", partner_id=ids[Side.PARTNER], rep_id=ids[Side.REP])
        self.page.links.append(
            LinkState(link.partner_id, link.rep_id, "gone", link.base_json, link.base_at)
        )
        self.counts["gone"] += 1

    def _record_plan(self, ids: Mapping[Side, str], plan: PairPlan) -> None:
        self._changes(ids, plan.changes)
        for conflict in plan.conflicts:
            self.page.conflicts.append(
                ConflictEntry(
                    partner_id=ids[Side.PARTNER],
                    rep_id=ids[Side.REP],
                    field=conflict.field,
                    partner_value=format_value(conflict.partner_value),
                    rep_value=format_value(conflict.rep_value),
                    base_value=format_value(conflict.base_value),
                    detected_at=self.page.now,
                )
            )
            self.counts["conflicts"] += 1
            log.warning(
                "conflict_recorded",
                partner_id=ids[Side.PARTNER],
                rep_id=ids[Side.REP],
                field=conflict.field,
                reason=conflict.reason.describe(),
            )
        in_conflict = {c.field for c in plan.conflicts}
        self.page.closed += [
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
            )
            self.counts["reverted"] += 1
        self._rejections(ids, plan.rejections)

    def _changes(self, ids: Mapping[Side, str], changes: Iterable[FieldChange]) -> None:
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
                at=self.page.now,
                run_id=self.run_id,
            )
            self.page.changes.append(entry)
            self.counts["fields_changed"] += 1
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
                dry_run=self.dry_run,
            )

    def _rejections(self, ids: Mapping[Side, str], rejections: Iterable[Rejection]) -> None:
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
            if side not in reasons and side in ids:
                self.page.resolved.add((side, ids[side]))

    # --- commit -----------------------------------------------------------------------------

    def commit(self) -> None:
        """Commit the page (in a dry run the context's store is a :class:`DryRunStore`)."""
        page = self.page
        self._page = None
        if self.dry_run:
            self.planned += page.changes
        resolved = sorted(page.resolved - set(page.dead))
        self.ctx.store.commit_page(
            self.ctx.name,
            PageCommit(
                links=page.links,
                changes=page.changes,
                conflicts=page.conflicts,
                closed_conflicts=page.closed,
                dead_letters=list(page.dead.values()),
                resolved_dead_letters=resolved,
                pending_done=page.pending_done,
                cursor_side=page.side if page.cursor is not None else None,
                cursor=page.cursor,
            ),
        )


def _active_link(
    ids: Mapping[Side, str],
    base_json: str,
    now: datetime,
    written: Mapping[Side, datetime],
    seen: Mapping[Side, str | None],
) -> LinkState:
    """The link of a pair whose writes all landed: its new base and what each side now holds."""
    return LinkState(
        partner_id=ids[Side.PARTNER],
        rep_id=ids[Side.REP],
        status="active",
        base_json=base_json,
        base_at=now,
        partner_written_at=written[Side.PARTNER],
        rep_written_at=written[Side.REP],
        partner_seen=seen[Side.PARTNER],
        rep_seen=seen[Side.REP],
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
