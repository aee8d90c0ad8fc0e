"""Pushing one page's decisions to the CRMs: counterparts created, updates sent in batches,
and values a CRM refuses written around, so one bad value holds back only its field.

:class:`Pusher` writes; it decides nothing about values (that was
:mod:`sync_worker.rules.reconcile`)
and commits nothing (that is :mod:`sync_worker.sync.ledger`, after every write here has landed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from sync_worker.connectors.base import RecordCreate, RecordUpdate, WriteResult
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.rules.mapping import Rule
from sync_worker.rules.plan import (
    BaseSnapshot,
    CreationPlan,
    PairPlan,
    creating_without,
    holding_back,
)
from sync_worker.state.base import LinkState
from sync_worker.sync.context import PairContext
from sync_worker.sync.ledger import Ledger
from sync_worker.sync.writers import Writer

log = structlog.stdlib.get_logger("sync_worker.sync.push")


@dataclass(slots=True)
class Pair:
    """Two records to reconcile, the stored link (None when new) and the ids they came from."""

    partner: DealRecord
    rep: DealRecord
    link: LinkState | None
    origin: Side | None = None
    """The side the shared deal was created on (its scope decides), once known."""

    def record(self, side: Side) -> DealRecord:
        return self.partner if side is Side.PARTNER else self.rep

    def records(self) -> tuple[DealRecord, DealRecord]:
        return self.partner, self.rep


@dataclass(slots=True)
class Planned:
    pair: Pair
    plan: PairPlan


@dataclass(frozen=True, slots=True)
class Landed:
    """What one side's batch update did, per record id."""

    written: dict[str, DealRecord]
    failed: dict[str, str]
    gone: set[str]
    refused: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per failed id, the properties the CRM named as invalid."""


@dataclass(slots=True)
class Pusher:
    """Sends one page's writes for one pair; failures are dead-lettered through the ledger."""

    ctx: PairContext
    writer: Writer
    ledger: Ledger
    counts: Counter[str]

    def collect_updates(
        self, item: Planned, updates: dict[Side, dict[str, dict[str, str]]]
    ) -> None:
        mapping = self.ctx.mapping
        for target in Side:
            record = item.pair.record(target)
            props = dict(item.plan.updates.get(target, {}))
            wanted = mapping.link_value(target, item.pair.record(target.other).id)
            if record.get(mapping.link_property(target)) != wanted:
                props[mapping.link_property(target)] = wanted
            if props:
                updates[target].setdefault(record.id, {}).update(props)

    def create(
        self,
        side: Side,
        creations: list[CreationPlan],
        updates: dict[Side, dict[str, dict[str, str]]],
    ) -> list[tuple[CreationPlan, DealRecord]]:
        if not creations:
            return []
        other = side.other
        if not self.writer.dry_run:
            self.ctx.store.add_pending(
                self.ctx.name, side, [c.origin_id for c in creations], self.ctx.clock.now()
            )
        result = self.writer.upsert(
            other,
            [RecordCreate(c.key, c.properties) for c in creations],
            self.ctx.mapping.link_property(other),
        )
        creations, written, failures = self._create_around_refusals(other, creations, result)
        created = []
        for plan in creations:
            new_record = written.get(plan.key)
            if new_record is None:
                reason = failures.get(plan.key, "the CRM returned no record")
                self.ledger.dead_letter(side, plan.origin_id, f"creating counterpart: {reason}")
                self.counts["rejected"] += 1
                continue
            link_property = self.ctx.mapping.link_property(side)
            link_value = self.ctx.mapping.link_value(side, new_record.id)
            updates[side].setdefault(plan.origin_id, {})[link_property] = link_value
            created.append((plan, new_record))
            self.counts[f"created.{other}"] += 1
            log.info(
                "counterpart_created",
                origin_side=str(side),
                origin_id=plan.origin_id,
                created_on=str(other),
                created_id=new_record.id,
                dry_run=self.writer.dry_run,
            )
        return created

    def _create_around_refusals(
        self, target: Side, creations: list[CreationPlan], result: WriteResult
    ) -> tuple[list[CreationPlan], dict[str, DealRecord], dict[str, str]]:
        """Creations the CRM refused for values of mapped fields it named are upserted again
        without them (one more batch): the counterpart exists and links, and only those fields
        wait (rejections). Returns the plans as finally sent, what was written, what failed."""
        written = dict(result.written)
        failures = {f.id: f.reason for f in result.failed}
        refused = {f.id: f.properties for f in result.failed if f.properties}
        plans: list[CreationPlan] = []
        again: list[CreationPlan] = []
        for plan in creations:
            fields = self._refused_fields(target, refused.get(plan.key, ()), creating=True)
            if fields and set(fields.values()) <= plan.properties.keys():
                reduced = creating_without(plan, fields, failures[plan.key])
                again.append(reduced)
                plans.append(reduced)
            else:
                plans.append(plan)
        if again:
            second = self.writer.upsert(
                target,
                [RecordCreate(c.key, c.properties) for c in again],
                self.ctx.mapping.link_property(target),
            )
            for plan in again:
                if plan.key in second.written:
                    written[plan.key] = second.written[plan.key]
                    del failures[plan.key]
            failures.update({f.id: f.reason for f in second.failed})
        return plans, written, failures

    def update(self, side: Side, updates: Mapping[str, Mapping[str, str]]) -> Landed:
        result = self.writer.update(side, [RecordUpdate(i, p) for i, p in updates.items()])
        return Landed(
            written=dict(result.written),
            failed={f.id: f.reason for f in result.failed},
            gone={f.id for f in result.failed if f.gone},
            refused={f.id: f.properties for f in result.failed if f.properties},
        )

    def write_around_refusals(
        self,
        planned: list[Planned],
        updates: dict[Side, dict[str, dict[str, str]]],
        landed: dict[Side, Landed],
    ) -> None:
        """A record the CRM refused for values of mapped fields it named is written again
        without them (one more batch per side): those fields are held back (rejections, their
        old base kept) and every other field lands. ``updates`` is left holding what was sent."""
        again: dict[Side, dict[str, dict[str, str]]] = {Side.PARTNER: {}, Side.REP: {}}
        for item in planned:
            for side in Side:
                record_id = item.pair.record(side).id
                sent = updates[side].get(record_id, {})
                fields = self._refused_fields(side, landed[side].refused.get(record_id, ()))
                if not fields or not set(fields.values()) <= sent.keys():
                    continue  # nothing named, or named what was not sent: a plain failure
                base = item.pair.link.base_json if item.pair.link is not None else None
                old = BaseSnapshot.from_json(base, self.ctx.mapping) if base else None
                reason = landed[side].failed[record_id]
                item.plan = holding_back(item.plan, side, fields, old, reason)
                rest = {p: v for p, v in sent.items() if p not in fields.values()}
                updates[side][record_id] = rest
                if rest:
                    again[side][record_id] = rest
                else:  # nothing else to write: the record stands as it is
                    del landed[side].failed[record_id]
        for side, batch in again.items():
            if not batch:
                continue
            second = self.update(side, batch)
            for record_id in batch:
                if record_id in second.written:
                    landed[side].written[record_id] = second.written[record_id]
                    del landed[side].failed[record_id]
                else:
                    landed[side].failed[record_id] = second.failed.get(
                        record_id, "the CRM returned no record"
                    )
            landed[side].gone.update(second.gone)

    def _refused_fields(
        self, side: Side, properties: Sequence[str], *, creating: bool = False
    ) -> dict[str, str]:
        """Field name -> property for refused ``properties``, if every one can be held back:
        a mapped field's (not the link property, a constant or an unmapped property) and, for a
        creation, one a later reconcile writes again (a value that flows into ``side`` by a rule
        other than set-on-create; a stage or pipeline default is written only at creation)."""
        fields = self.ctx.mapping.fields
        by_property = {
            spec.property_on(side): spec.name
            for spec in fields
            if not creating or (spec.allows(side.other) and spec.rule is not Rule.SET_ON_CREATE)
        }
        if not properties or any(p not in by_property for p in properties):
            return {}
        return {by_property[p]: p for p in properties}
