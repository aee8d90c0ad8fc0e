"""One page of changed records: pair -> reconcile -> write -> one atomic state commit.

The order is the safety argument:

1. sort the page (:mod:`sync_worker.sync.sorting`): echoes and stale snapshots cost nothing;
2. read the counterparts the page needs, in batches; a missing counterpart tombstones the link
   (deletes are never propagated);
3. reconcile each pair (pure); re-read with property history only where newest-wins needs it;
4. create missing counterparts by upsert on the unique link property, after recording the
   intent, so a crash between create and link-back converges on the next run with no duplicate;
5. push updates in batches, link properties riding along with field writes, and write around
   values a CRM refuses (:mod:`sync_worker.sync.push`);
6. commit links, bases, audit log, conflicts, dead letters and the cursor in one transaction,
   with each pair's new base only if every write of that pair landed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.plan import BaseSnapshot, CreationPlan, Directory, PairPlan
from sync_worker.rules.reconcile import plan_creation, reconcile
from sync_worker.state.base import LinkState
from sync_worker.sync.context import PairContext
from sync_worker.sync.ledger import Ledger
from sync_worker.sync.push import Landed, Pair, Planned, Pusher
from sync_worker.sync.scoping import ScopeGuard, ScopeJudge
from sync_worker.sync.sorting import Sorted, latest_per_id, sort_page
from sync_worker.sync.writers import Writer

log = structlog.stdlib.get_logger("sync_worker.sync.processor")


@dataclass(slots=True)
class PageProcessor:
    """Processes pages for one cycle of one pair."""

    ctx: PairContext
    directories: Callable[[], Directory]
    writer: Writer
    ledger: Ledger
    counts: Counter[str] = field(default_factory=Counter)
    _directory: Directory | None = None
    pusher: Pusher = field(init=False)
    scope: ScopeGuard = field(init=False)

    def __post_init__(self) -> None:
        self.pusher = Pusher(self.ctx, self.writer, self.ledger, self.counts)
        self.scope = ScopeGuard(ScopeJudge(self.ctx), self.ledger, self.counts)

    @property
    def directory(self) -> Directory:
        """Both accounts' users, fetched at most once per cycle and only when a pair needs them
        (an idle cycle costs one search per side, nothing more)."""
        if self._directory is None:
            self._directory = self.directories()
        return self._directory

    def process(
        self,
        side: Side,
        records: Sequence[DealRecord],
        cursor: datetime | None,
        *,
        attempts: Mapping[str, int] | None = None,
    ) -> None:
        """Process ``records`` pulled from ``side``; ``attempts`` marks dead letters retried."""
        retried = attempts or {}
        now = self.ctx.clock.now()
        unique = latest_per_id(records)
        links = self.ctx.store.links_by_ids(self.ctx.name, side, [r.id for r in unique])
        self.ledger.begin(side, cursor, now, retried)
        if retried:  # read by id, not found by the scoped search: check the scope here
            unique = self.scope.keep_retried(side, unique, links)
        page = sort_page(side, unique, links, self.ctx.mapping, force=retried.keys())
        self.scope.drop_unreached(side, page)
        self._count_skips(page)
        self.ledger.resolve(side, page.settled_ids)
        for record, stored in page.foreign:
            prop = self.ctx.mapping.link_property(side)
            reason = f"{prop} holds {stored!r}, which is not a link of this pair"
            self.ledger.dead_letter(side, record.id, reason)
        pairs = self._linked_pairs(side, page) + self._claimed_pairs(side, page)
        created_pairs, creations = self._creations(side, page.origins)
        planned = self._plan(pairs + created_pairs, now)
        origins = {r.id: r for r in page.origins}
        self._apply(side, planned, creations, origins, now)
        self.ledger.commit()

    # --- 2. counterparts --------------------------------------------------------------------

    def _linked_pairs(self, side: Side, page: Sorted) -> list[Pair]:
        if not page.linked:
            return []
        other = side.other
        wanted = [link.id_on(other) for _, link in page.linked]
        found = self._read(other, wanted)
        pairs = []
        for record, link in page.linked:
            counterpart = found.get(link.id_on(other))
            if counterpart is None:
                self._gone(side, record, link)
                continue
            pair = _pair(side, record, counterpart, link)
            if self.scope.admit(side, pair, link):
                pairs.append(pair)
        return pairs

    def _claimed_pairs(self, side: Side, page: Sorted) -> list[Pair]:
        if not page.claims:
            return []
        other = side.other
        found = self._read(other, [counterpart for _, counterpart in page.claims])
        known = self.ctx.store.links_by_ids(self.ctx.name, other, list(found))
        pairs: list[Pair] = []
        taken: set[str] = set()
        for record, counterpart_id in page.claims:
            counterpart = found.get(counterpart_id)
            problem = self._claim_problem(
                side, record, counterpart_id, counterpart, known=known, taken=taken
            )
            if problem is not None:
                continue
            assert counterpart is not None  # noqa: S101 - _claim_problem checked it
            taken.add(counterpart_id)
            pair = _pair(side, record, counterpart, None)
            pair.origin = self.scope.judge.origin(pair.partner, None)
            pairs.append(pair)
        return pairs

    def _claim_problem(
        self,
        side: Side,
        record: DealRecord,
        counterpart_id: str,
        counterpart: DealRecord | None,
        *,
        known: Mapping[str, LinkState],
        taken: set[str],
        origin: Side | None = None,
    ) -> str | None:
        if counterpart is None:
            # Unknown to the store and not in the CRM: a typo, or a deal deleted before its link
            # was ever recorded. Never re-create it; keep the deal visible and retried, so fixing
            # or clearing the property lets it sync.
            prop = self.ctx.mapping.link_property(side)
            reason = f"{prop} names {side.other} deal {counterpart_id}, which does not exist"
            self.ledger.dead_letter(side, record.id, reason)
            self.counts["rejected"] += 1
            return reason
        other = side.other
        partner, rep = _pair(side, record, counterpart, None).records()
        judge = self.scope.judge
        problem = judge.pair_problem(partner, rep, origin or judge.origin(partner, None))
        if problem is not None:
            reason = (
                f"names {other} deal {counterpart_id}, which is outside this pair's scope: "
                f"{problem}"
            )
            self.ledger.dead_letter(side, record.id, reason)
            self.counts["rejected"] += 1
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
            self.ledger.dead_letter(side, record.id, reason)
            self.counts["rejected"] += 1
            return reason
        return None

    def _gone(self, side: Side, record: DealRecord, link: LinkState) -> None:
        log.warning(
            "counterpart_gone",
            side=str(side),
            deal_id=record.id,
            missing=link.id_on(side.other),
            action="unlinked; the delete is not propagated",
        )
        self.ledger.keep_link(
            LinkState(link.partner_id, link.rep_id, "gone", link.base_json, link.base_at)
        )
        self.counts["gone"] += 1

    def _read(self, side: Side, ids: Sequence[str]) -> dict[str, DealRecord]:
        unique = list(dict.fromkeys(ids))
        result = self.ctx.connector(side).read(unique, self.ctx.mapping.properties(side))
        return dict(result.found)

    # --- 4. creations (decided here, written in _apply) --------------------------------------

    def _creations(
        self, side: Side, origins: Sequence[DealRecord]
    ) -> tuple[list[Pair], list[CreationPlan]]:
        """Counterparts to create for ``origins``, and origins whose counterpart exists already.

        Before creating, the other side is read by the unique link property, for every origin:
        an upsert would otherwise silently overwrite a deal that already carries the key (an
        earlier run's creation that stopped before its link-back, or a link a user typed on the
        other side). Our own earlier creation pairs at once; a deal linked by hand goes through
        the same checks as any claim (scope, already linked elsewhere) and is then reconciled.
        """
        if not origins:
            return [], []
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
        existing = {keys[key]: record for key, record in found.items() if key in keys}
        in_flight = self.ctx.store.pending(self.ctx.name, side, list(existing))
        known = self.ctx.store.links_by_ids(self.ctx.name, other, [r.id for r in existing.values()])
        pairs: list[Pair] = []
        decided: set[str] = set()
        taken: set[str] = set()
        for record in origins:
            counterpart = existing.get(record.id)
            if counterpart is None:
                continue
            decided.add(record.id)
            if record.id not in in_flight and self._claim_problem(
                side, record, counterpart.id, counterpart, known=known, taken=taken, origin=side
            ):
                continue
            taken.add(counterpart.id)
            pair = _pair(side, record, counterpart, None)
            pair.origin = side
            pairs.append(pair)
        now = self.ctx.clock.now()
        plans = [
            plan_creation(r, side, self.ctx.mapping, self.directory, now)
            for r in origins
            if r.id not in decided
        ]
        return pairs, plans

    # --- 3. reconcile -----------------------------------------------------------------------

    def _plan(self, pairs: list[Pair], now: datetime) -> list[Planned]:
        planned = [Planned(p, self._reconcile(p, now)) for p in pairs]
        needs = [item for item in planned if item.plan.needs_history]
        if needs:
            self._replan_with_history(needs, now)
        return planned

    def _reconcile(self, pair: Pair, now: datetime) -> PairPlan:
        base = None
        if pair.link is not None and pair.link.base_json is not None:
            base = BaseSnapshot.from_json(pair.link.base_json, self.ctx.mapping)
        return reconcile(pair.partner, pair.rep, base, self.ctx.mapping, self.directory, now)

    def _replan_with_history(self, items: list[Planned], now: datetime) -> None:
        fresh: dict[Side, Mapping[str, DealRecord]] = {}
        for side in Side:
            ids = [item.pair.record(side).id for item in items]
            fresh[side] = (
                self.ctx.connector(side)
                .read(ids, self.ctx.mapping.properties(side), with_history=True)
                .found
            )
        for item in items:
            partner = fresh[Side.PARTNER].get(item.pair.partner.id)
            rep = fresh[Side.REP].get(item.pair.rep.id)
            if partner is None or rep is None:
                continue  # vanished meanwhile: keep the plan made without history
            item.pair = Pair(partner, rep, item.pair.link)
            item.plan = self._reconcile(item.pair, now)

    # --- 5. writes --------------------------------------------------------------------------

    def _apply(
        self,
        side: Side,
        planned: list[Planned],
        creations: list[CreationPlan],
        origins: Mapping[str, DealRecord],
        now: datetime,
    ) -> None:
        updates: dict[Side, dict[str, dict[str, str]]] = {Side.PARTNER: {}, Side.REP: {}}
        for item in planned:
            self.pusher.collect_updates(item, updates)
        created = self.pusher.create(side, creations, updates)
        landed = {s: self.pusher.update(s, updates[s]) for s in Side}
        self.pusher.write_around_refusals(planned, updates, landed)
        for item in planned:
            self.ledger.settle_pair(item.pair, item.plan, landed, updates, now)
        for plan, new_record in created:
            origin = origins[plan.origin_id]
            self.ledger.settle_creation(
                plan, origin, new_record, landed=landed, sent=updates, now=now
            )
        self._count_writes(landed, planned)

    # --- counting ---------------------------------------------------------------------------

    def _count_skips(self, page: Sorted) -> None:
        for why, n in page.skipped.items():
            self.counts[f"skipped.{why}"] += n

    def _count_writes(self, landed: Mapping[Side, Landed], planned: list[Planned]) -> None:
        for side, outcome in landed.items():
            self.counts[f"updated.{side}"] += len(outcome.written)
            self.counts["write_failed"] += len(outcome.failed)
        self.counts["reconciled"] += len(planned)


def _pair(side: Side, record: DealRecord, counterpart: DealRecord, link: LinkState | None) -> Pair:
    if side is Side.PARTNER:
        return Pair(record, counterpart, link)
    return Pair(counterpart, record, link)
