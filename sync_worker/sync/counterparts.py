"""Finding the counterparts a page's records pair with, and checking each pairing.

Every counterpart is read live, by id (or by the unique link property): a deal whose stored
link no longer resolves is unlinked (deletes are never propagated); a counterpart outside the
pair's scope is skipped; a record naming a counterpart (a *claim*: an interrupted run's link,
or one typed by hand) pairs only if that counterpart exists, is in scope and is nobody else's.
What is found goes to the page's ledger; nothing here writes to a CRM.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import structlog

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.scope import discovery_scope
from sync_worker.state.base import LinkState, LinkStatus
from sync_worker.sync.context import PairContext
from sync_worker.sync.ledger import PageLedger
from sync_worker.sync.push import Pair
from sync_worker.sync.scoping import ScopeGuard, ScopeJudge
from sync_worker.sync.sorting import Sorted
from sync_worker.sync.tally import Skip

log = structlog.stdlib.get_logger("sync_worker.sync.counterparts")


@dataclass(slots=True)
class Counterparts:
    """Reads and checks counterparts for one cycle of one pair; scope verdicts come from
    :mod:`sync_worker.sync.scoping` (property definitions fetched once per cycle)."""

    ctx: PairContext
    judge: ScopeJudge = field(init=False)

    def __post_init__(self) -> None:
        self.judge = ScopeJudge(self.ctx)

    def guard(self, ledger: PageLedger) -> ScopeGuard:
        return ScopeGuard(self.judge, ledger)

    def linked(self, ledger: PageLedger, page: Sorted) -> list[Pair]:
        if not page.linked:
            return []
        side = ledger.side
        other = side.other
        wanted = [link.id_on(other) for _, link in page.linked]
        found = self._read(other, wanted)
        pairs = []
        for record, link in page.linked:
            counterpart = found.get(link.id_on(other))
            if counterpart is None:
                _gone(ledger, record, link)
                continue
            admitted = self.guard(ledger).admit(
                side, Pair.of(side, record, counterpart, link), link
            )
            if admitted is not None:
                pairs.append(admitted)
        return pairs

    def claimed(self, ledger: PageLedger, page: Sorted) -> list[Pair]:
        if not page.claims:
            return []
        side = ledger.side
        other = side.other
        found = self._read(other, [counterpart for _, counterpart in page.claims])
        known = self.ctx.store.links_by_ids(self.ctx.name, other, list(found))
        pairs: list[Pair] = []
        taken: set[str] = set()
        for record, counterpart_id in page.claims:
            counterpart = found.get(counterpart_id)
            problem = self._claim_problem(
                ledger, record, counterpart_id, counterpart, known=known, taken=taken
            )
            if problem is not None:
                continue
            assert counterpart is not None  # noqa: S101 - _claim_problem checked it
            taken.add(counterpart_id)
            pair = Pair.of(side, record, counterpart, None)
            pairs.append(replace(pair, origin=self.judge.origin(pair.partner, None)))
        return pairs

    def _claim_problem(
        self,
        ledger: PageLedger,
        record: DealRecord,
        counterpart_id: str,
        counterpart: DealRecord | None,
        *,
        known: Mapping[str, LinkState],
        taken: set[str],
        origin: Side | None = None,
    ) -> str | None:
        """Why ``record`` cannot take ``counterpart_id`` as its counterpart (the record is
        rejected for it), or None. ``origin``: where the shared deal was created, if known."""
        side = ledger.side
        if counterpart is None:
            # Unknown to the store and not in the CRM: a typo, or a deal deleted before its link
            # was ever recorded. Never re-create it; keep the deal visible and retried, so fixing
            # or clearing the property lets it sync.
            prop = self.ctx.mapping.link_property(side)
            reason = f"{prop} names {side.other} deal {counterpart_id}, which does not exist"
            ledger.reject(side, record.id, reason)
            return reason
        other = side.other
        pair = Pair.of(side, record, counterpart, None)
        created_on = origin or self.judge.origin(pair.partner, None)
        problem = self.judge.pair_problem(pair.partner, pair.rep, created_on)
        if problem is not None:
            reason = (
                f"names {other} deal {counterpart_id}, which is outside this pair's scope: "
                f"{problem}"
            )
            ledger.reject(side, record.id, reason)
            return reason
        stored = counterpart.get(self.ctx.mapping.link_property(other))
        back = self.ctx.mapping.counterpart_id(other, stored)
        existing = known.get(counterpart_id)
        if (
            (stored is not None and back != record.id)
            or counterpart_id in taken
            or (existing is not None and existing.id_on(side) != record.id)
        ):
            owner = stored if stored is not None and back != record.id else "another deal"
            reason = f"{other} deal {counterpart_id} is already linked to {owner}"
            ledger.reject(side, record.id, reason)
            return reason
        return None

    def _read(self, side: Side, ids: Sequence[str]) -> dict[str, DealRecord]:
        unique = list(dict.fromkeys(ids))
        result = self.ctx.connector(side).read(unique, self.ctx.mapping.properties(side))
        return dict(result.found)

    def existing(
        self, ledger: PageLedger, origins: Sequence[DealRecord], in_flight: set[str]
    ) -> tuple[list[Pair], set[str]]:
        """For origins whose counterpart could not be created, the deal on the other side that
        already holds their link key, if any: our own earlier creation (a run that stopped
        before its link-back) pairs at once; a deal linked by hand goes through the same checks
        as any claim (scope, already linked elsewhere) and is then reconciled. Returns the
        pairs, and the ids of every origin whose key is held (paired or rejected).
        ``in_flight``: origins whose creation an earlier run recorded as started."""
        side = ledger.side
        other = side.other
        keys = {self.ctx.mapping.link_value(other, r.id): r.id for r in origins}
        found = (
            self.ctx.connector(other)
            .read(
                sorted(keys),
                self.ctx.mapping.properties(other),
                id_property=self.ctx.mapping.link_property(other),
            )
            .found
        )
        holders = {keys[key]: record for key, record in found.items() if key in keys}
        known = self.ctx.store.links_by_ids(self.ctx.name, other, [r.id for r in holders.values()])
        pairs: list[Pair] = []
        taken: set[str] = set()
        for record in origins:
            counterpart = holders.get(record.id)
            if counterpart is None:
                continue
            if record.id not in in_flight and self._claim_problem(
                ledger, record, counterpart.id, counterpart, known=known, taken=taken, origin=side
            ):
                continue
            taken.add(counterpart.id)
            pairs.append(Pair.of(side, record, counterpart, None, origin=side))
        return pairs, set(holders)

    def searchable(self, ledger: PageLedger, records: Sequence[DealRecord]) -> list[DealRecord]:
        """Records read live for inbox entries that the side's pull would have found; the
        others (a webhook for a deal outside this pair) are skipped, counted."""
        side = ledger.side
        scope = discovery_scope(self.ctx.mapping, side)
        shapes = self.judge.shapes(side)
        kept = [r for r in records if scope.selects(r.properties, shapes)]
        if len(kept) < len(records):
            ledger.skip(Skip.NOT_SELECTED, len(records) - len(kept))
        return kept

    def still_in_scope(
        self, ledger: PageLedger, records: Sequence[DealRecord], links: Mapping[str, LinkState]
    ) -> list[DealRecord]:
        """Retried dead letters still this pair's to write (see
        :meth:`~sync_worker.sync.scoping.ScopeGuard.keep_retried`)."""
        return self.guard(ledger).keep_retried(ledger.side, records, links)


def _gone(ledger: PageLedger, record: DealRecord, link: LinkState) -> None:
    log.warning(
        "counterpart_gone",
        side=str(ledger.side),
        deal_id=record.id,
        missing=link.id_on(ledger.side.other),
        action="unlinked; the delete is not propagated",
    )
    ledger.keep_link(
        LinkState(link.partner_id, link.rep_id, LinkStatus.GONE, link.base_json, link.base_at)
    )
