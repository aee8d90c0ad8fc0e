"""One page of changed records: pair -> reconcile -> write -> one atomic state commit.

The order is the safety argument:

1. sort the page (:mod:`sync_worker.sync.sorting`): echoes and stale snapshots cost nothing;
2. read the counterparts the page needs, live, in batches (:mod:`sync_worker.sync.counterparts`);
   a missing counterpart tombstones the link (deletes are never propagated);
3. reconcile each pair (pure). Search finds, reads decide: a pulled record is a search document
   that may trail the live deal (index lag), so a pair whose plan writes the pulled side is
   planned again from a live read of it; newest-wins without per-property timestamps is planned
   again from both deals read with history;
4. create missing counterparts, after recording the intent; the unique link property refuses a
   second deal with the same key, so a crash between create and link-back converges on the
   next run with no duplicate: the deal holding the key is read and paired instead;
5. push updates in batches, link properties riding along with field writes, and write around
   values a CRM refuses (:mod:`sync_worker.sync.push`);
6. commit links, bases, audit log, conflicts, dead letters and the cursor in one transaction,
   with each pair's new base only if every write of that pair landed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.plan import BaseSnapshot, Directory, PairPlan
from sync_worker.rules.reconcile import plan_creation, reconcile
from sync_worker.state.base import ChangeEntry, Taken
from sync_worker.sync.context import PairContext
from sync_worker.sync.counterparts import Counterparts
from sync_worker.sync.ledger import PageLedger
from sync_worker.sync.push import Pair, Planned, Pusher, PushOutcome
from sync_worker.sync.sorting import latest_per_id, sort_page
from sync_worker.sync.tally import Tally
from sync_worker.sync.team import DirectorySource
from sync_worker.sync.writers import Writer

log = structlog.stdlib.get_logger("sync_worker.sync.processor")


@dataclass(frozen=True, slots=True)
class PageResult:
    """What one processed page did: its counts, and the changes it committed (a dry run's
    report lists them)."""

    tally: Tally
    changes: tuple[ChangeEntry, ...] = ()


@dataclass(slots=True)
class PageProcessor:
    """Processes pages for one cycle of one pair; each page ends in one state commit."""

    ctx: PairContext
    directories: DirectorySource
    writer: Writer
    run_id: str
    retry_base_seconds: float = 300.0
    counterparts: Counterparts = field(init=False)

    def __post_init__(self) -> None:
        self.counterparts = Counterparts(self.ctx)

    @property
    def directory(self) -> Directory:
        """Both accounts' users, fetched at most once per cycle and only when a pair needs them
        (an idle cycle costs one search per side, nothing more); see :mod:`.team`."""
        return self.directories.current()

    def process(
        self,
        side: Side,
        records: Sequence[DealRecord],
        cursor: datetime | None,
        *,
        attempts: Mapping[str, int] | None = None,
        missing: Sequence[str] = (),
        taken: Sequence[Taken] = (),
        read_live: bool = False,
    ) -> PageResult:
        """Process ``records`` from ``side`` and commit the page. Records come from a search
        (a pull, or rep discovery through the inbox) unless ``attempts`` is given: then they are
        dead letters retried, read live by id, and ``missing`` lists retried ids that no longer
        exist, whose letters close. ``taken`` lists the inbox entries the records stand for,
        which the page's commit drains. Records ``read_live`` for inbox ids are processed only
        if a search of the side would find them (a webhook knows no scope)."""
        retried = attempts or {}
        live = bool(retried) or read_live
        now = self.ctx.clock.now()
        ledger = PageLedger(
            self.ctx,
            self.run_id,
            side,
            cursor,
            now,
            {(side, i): n for i, n in retried.items()},
            self.retry_base_seconds,
        )
        ledger.resolve(side, missing)
        ledger.taken = list(taken)
        unique = latest_per_id(records)
        if read_live and not retried:
            unique = self.counterparts.searchable(ledger, unique)
        links = self.ctx.store.links_by_ids(self.ctx.name, side, [r.id for r in unique])
        if retried:  # read by id, not found by the scoped search: check the scope here
            unique = self.counterparts.still_in_scope(ledger, unique, links)
        page = sort_page(side, unique, links, self.ctx.mapping, force=retried.keys())
        self.counterparts.guard(ledger).drop_unreached(side, page)
        for why, n in page.skipped.items():
            ledger.skip(why, n)
        ledger.resolve(side, page.settled_ids)
        for record, stored in page.foreign:
            prop = self.ctx.mapping.link_property(side)
            reason = f"{prop} holds {stored!r}, which is not a link of this pair"
            ledger.dead_letter(side, record.id, reason)
        pairs = self.counterparts.linked(ledger, page) + self.counterparts.claimed(ledger, page)
        searched = None if live else side
        outcome = self._push(ledger, pairs, page.origins, now, searched)
        ledger.settle(outcome)
        commit = ledger.commit()
        self.ctx.store.commit_page(self.ctx.name, commit)
        tally = ledger.tally(commit, outcome, pulled=0 if retried else len(records))
        if taken:
            tally += Tally(inbox_drained=len(taken))
        return PageResult(tally, tuple(commit.changes))

    def _push(
        self,
        ledger: PageLedger,
        pairs: list[Pair],
        origins: Sequence[DealRecord],
        now: datetime,
        searched: Side | None,
    ) -> PushOutcome:
        """Plan and push the pairs and the origins' counterparts. An origin whose counterpart
        could not be created is looked up by its link key: a deal already holding it (an earlier
        run's creation, or a link typed by hand) is checked, paired and pushed in a second
        round; only an origin whose key nobody holds keeps its creation failure."""
        side = ledger.side
        pusher = Pusher(self.ctx, self.writer)
        self.directories.cover((side, r) for r in origins)
        creations = [plan_creation(r, side, self.ctx.mapping, self.directory, now) for r in origins]
        by_id = {r.id: r for r in origins}
        # Creations an earlier run started (its intent recorded, its link-back never written):
        # asked before this run records its own intents.
        in_flight = self.ctx.store.pending(self.ctx.name, side, list(by_id)) if by_id else set()
        outcome = pusher.push(side, self._plan(pairs, now, searched), creations, by_id)
        failed = [by_id[c.plan.origin_id] for c in outcome.creations if c.created is None]
        if not failed:
            return outcome
        held_pairs, held = self.counterparts.existing(ledger, failed, in_flight)
        outcome = outcome.without_creations(held)
        if held_pairs:
            outcome += pusher.push(side, self._plan(held_pairs, now, searched), [], {})
        return outcome

    # --- reconcile --------------------------------------------------------------------------

    def _plan(self, pairs: list[Pair], now: datetime, searched: Side | None) -> list[Planned]:
        planned = [Planned(p, self._reconcile(p, now)) for p in pairs]
        if searched is not None:
            planned = self._confirm_live(planned, searched, now)
        return self._with_history(planned, now)

    def _reconcile(self, pair: Pair, now: datetime) -> PairPlan:
        self.directories.cover((s, pair.record(s)) for s in Side)  # owner ids it names
        base = None
        if pair.link is not None and pair.link.base_json is not None:
            base = BaseSnapshot.from_json(pair.link.base_json, self.ctx.mapping)
        return reconcile(pair.partner, pair.rep, base, self.ctx.mapping, self.directory, now)

    def _confirm_live(self, planned: list[Planned], searched: Side, now: datetime) -> list[Planned]:
        """Plans that write ``searched``'s fields, made again from a live read of that side's
        deal: its search document may miss an edit not indexed yet, which the plan would
        overwrite. (Plans needing history are re-read live there.)"""
        wanted = [i for i in planned if i.plan.updates.get(searched) and not i.plan.needs_history]
        if not wanted:
            return planned
        ids = [item.pair.record(searched).id for item in wanted]
        live = self.ctx.connector(searched).read(ids, self.ctx.mapping.properties(searched)).found
        again: dict[int, Planned] = {}
        for item in wanted:
            record = live.get(item.pair.record(searched).id)
            if record is None:
                continue  # gone meanwhile: the write finds out, and unlinks
            counterpart = item.pair.record(searched.other)
            pair = Pair.of(searched, record, counterpart, item.pair.link, item.pair.origin)
            again[id(item)] = Planned(pair, self._reconcile(pair, now))
        return [again.get(id(item), item) for item in planned]

    def _with_history(self, planned: list[Planned], now: datetime) -> list[Planned]:
        """Plans whose newest-wins conflict lacked per-property timestamps, made again from
        both deals read live with history; if the timestamps are still missing, that second
        plan (settled by modification time) is final. A pair that vanished keeps its plan."""
        items = [item for item in planned if item.plan.needs_history]
        if not items:
            return planned
        fresh: dict[Side, Mapping[str, DealRecord]] = {}
        for side in Side:
            ids = [item.pair.record(side).id for item in items]
            fresh[side] = (
                self.ctx.connector(side)
                .read(ids, self.ctx.mapping.properties(side), with_history=True)
                .found
            )
        again: dict[int, Planned] = {}
        for item in items:
            partner = fresh[Side.PARTNER].get(item.pair.partner.id)
            rep = fresh[Side.REP].get(item.pair.rep.id)
            if partner is None or rep is None:
                continue
            pair = Pair(partner, rep, item.pair.link, item.pair.origin)
            again[id(item)] = Planned(pair, self._reconcile(pair, now))
        return [again.get(id(item), item) for item in planned]
