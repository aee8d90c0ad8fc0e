"""Scope checks for one cycle: deals read by id (counterparts, retried dead letters) and deals
a two-group pull discovered by their link property.

The rules are :mod:`sync_worker.rules.scope`'s; this room adds the property definitions (a
filter compares numbers as numbers, enumerations case-sensitively), fetched at most once per side
per cycle and only when a deal needs judging, says in a sentence why a pair is out of scope, and
makes every skip visible: an event, a count, and on the link the reason ``status`` and
``explain`` show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import structlog

from sync_worker.connectors.base import PropertyDef
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.scope import discovery_scope, failing_filter, infer_origin, reach_problem
from sync_worker.state.base import LinkState, LinkStatus
from sync_worker.sync.context import PairContext
from sync_worker.sync.ledger import PageLedger
from sync_worker.sync.push import Pair
from sync_worker.sync.sorting import Sorted
from sync_worker.sync.tally import Skip

log = structlog.stdlib.get_logger("sync_worker.sync.scoping")


@dataclass(slots=True)
class ScopeJudge:
    """Judges deals and pairs against one pair's scope (reads only property definitions)."""

    ctx: PairContext
    _shapes: dict[Side, Mapping[str, PropertyDef]] = field(default_factory=dict)

    def shapes(self, side: Side) -> Mapping[str, PropertyDef]:
        found = self._shapes.get(side)
        if found is None:
            found = self.ctx.connector(side).property_definitions()
            self._shapes[side] = found
        return found

    def in_scope(self, side: Side, record: DealRecord) -> bool:
        """Whether ``record`` passes every scope filter of ``side`` (an origin must)."""
        scope = self.ctx.mapping.scope(side)
        return not scope or failing_filter(scope, record, self.shapes(side)) is None

    def in_reach(self, side: Side, record: DealRecord) -> bool:
        """Whether ``record`` may be the non-origin deal of a pair (see rules.scope)."""
        if not self.ctx.mapping.scope(side):
            return True
        return reach_problem(self.ctx.mapping, side, record, self.shapes(side)) is None

    def origin(self, partner: DealRecord, link: LinkState | None) -> Side:
        """The side the pair's shared deal was created on: recorded, else inferred."""
        if link is not None and link.origin is not None:
            return link.origin
        if not self.ctx.mapping.scope(Side.PARTNER):
            return Side.PARTNER
        return infer_origin(self.ctx.mapping, partner, self.shapes(Side.PARTNER))

    def pair_problem(self, partner: DealRecord, rep: DealRecord, origin: Side) -> str | None:
        """Why the pair may not sync now, naming the deal and the filter; None when it may."""
        records = {Side.PARTNER: partner, Side.REP: rep}
        scope = self.ctx.mapping.scope(origin)
        failed = failing_filter(scope, records[origin], self.shapes(origin)) if scope else None
        if failed is not None:
            return (
                f"{origin} deal {records[origin].id} (where the shared deal was created) "
                f"fails the {origin} scope filter {failed.describe()}"
            )
        other = origin.other
        if not self.ctx.mapping.scope(other):
            return None
        why = reach_problem(self.ctx.mapping, other, records[other], self.shapes(other))
        if why is None:
            return None
        return f"{other} deal {records[other].id} {why}"

    def reach_problem(self, side: Side, record: DealRecord) -> str | None:
        """Why ``record`` is not within ``side``'s reach, or None."""
        if not self.ctx.mapping.scope(side):
            return None
        return reach_problem(self.ctx.mapping, side, record, self.shapes(side))


@dataclass(frozen=True, slots=True)
class ScopeGuard:
    """Applies the judge's verdicts to one page and records every skip in its ledger."""

    judge: ScopeJudge
    ledger: PageLedger

    def admit(self, side: Side, pair: Pair, link: LinkState) -> Pair | None:
        """A linked pair (its record pulled from ``side``) with its origin set, if it syncs now;
        None for a pair out of scope, skipped visibly (see :meth:`out_of_scope`)."""
        origin = self.judge.origin(pair.partner, link)
        problem = self.judge.pair_problem(pair.partner, pair.rep, origin)
        if problem is None:
            return replace(pair, origin=origin)
        self.out_of_scope(side, pair.record(side).id, replace(link, origin=origin), problem)
        return None

    def out_of_scope(self, side: Side, deal_id: str, link: LinkState, why: str) -> None:
        """The pair's origin left its scope (registration ended), or its other deal left the
        reach (given to another partner): nothing flows until it is back. Never silent: an
        event, a count, and the link remembers why (``status``, ``explain``); its fingerprints
        are forgotten so that the next pull of either deal reconciles in full. The deal's
        dead letter (if any) closes: it is not this pair's to write now."""
        self.ledger.skip(Skip.OUT_OF_SCOPE)
        self.ledger.resolve(side, [deal_id])
        log.warning(
            "linked_deal_out_of_scope",
            side=str(side),
            deal_id=deal_id,
            partner_id=link.partner_id,
            rep_id=link.rep_id,
            origin=None if link.origin is None else str(link.origin),
            reason=why,
            action="not synced until back in scope",
        )
        self.ledger.keep_link(replace(link, partner_seen=None, rep_seen=None, out_of_scope=why))

    def keep_retried(
        self, side: Side, records: Sequence[DealRecord], links: Mapping[str, LinkState]
    ) -> list[DealRecord]:
        """Retried dead letters still this pair's to write: an unlinked deal must be in its
        side's scope; a linked one within reach (its pair's origin decides, in :meth:`admit`).
        The others are skipped visibly, their letters closed."""
        kept = []
        for record in records:
            link = links.get(record.id)
            if link is not None and link.status is LinkStatus.ACTIVE:
                why = self.judge.reach_problem(side, record)
                if why is None:
                    kept.append(record)
                else:
                    self.out_of_scope(side, record.id, link, f"{side} deal {record.id} {why}")
                continue
            if self.judge.in_scope(side, record):
                kept.append(record)
                continue
            self.ledger.resolve(side, [record.id])
            self.ledger.skip(Skip.OUT_OF_SCOPE)
            log.info(
                "dead_letter_out_of_scope",
                side=str(side),
                deal_id=record.id,
                action="closed; the deal syncs again once it is back in scope",
            )
        return kept

    def drop_unreached(self, side: Side, page: Sorted) -> None:
        """A pull that also discovers deals by their link property (the partner's unregistered
        counterparts) must not let one originate anything, nor dead-letter a link value that
        is not this pair's: only a deal in the side's own scope may."""
        if len(discovery_scope(self.judge.ctx.mapping, side).groups) < 2:
            return
        dropped = [r for r in page.origins if not self.judge.in_scope(side, r)]
        dropped += [r for r, _ in page.foreign if not self.judge.in_scope(side, r)]
        if not dropped:
            return
        gone = {r.id for r in dropped}
        page.origins = [r for r in page.origins if r.id not in gone]
        page.foreign = [(r, v) for r, v in page.foreign if r.id not in gone]
        for record in dropped:
            page.skip(Skip.NOT_IN_SCOPE, record)
            log.info("deal_not_in_scope", side=str(side), deal_id=record.id, action="skipped")
