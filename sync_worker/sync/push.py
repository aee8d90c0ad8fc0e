"""Pushing decided writes to the CRMs: counterparts created, updates sent in batches, and values
a CRM refuses written around, so one bad value holds back only its field.

:class:`Pusher` writes and reports, as values, what became of every write; it decides nothing
about field values (that was :mod:`sync_worker.rules.reconcile`) and records nothing in the
state (that is :mod:`sync_worker.sync.ledger`, from the outcome returned here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from sync_worker.connectors.base import RecordCreate, RecordUpdate, WriteResult
from sync_worker.kernel.model import BySide, DealRecord, Side
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
from sync_worker.sync.writers import Writer

log = structlog.stdlib.get_logger("sync_worker.sync.push")

Batch = dict[str, dict[str, str]]
"""Property writes for one side, by record id."""


@dataclass(frozen=True, slots=True)
class Pair:
    """Two records to reconcile and their stored link (None when new)."""

    partner: DealRecord
    rep: DealRecord
    link: LinkState | None
    origin: Side | None = None
    """The side the shared deal was created on (its scope decides), once known."""

    @property
    def records(self) -> BySide[DealRecord]:
        return BySide(self.partner, self.rep)

    def record(self, side: Side) -> DealRecord:
        return self.records[side]

    @classmethod
    def of(
        cls,
        side: Side,
        record: DealRecord,
        counterpart: DealRecord,
        link: LinkState | None,
        origin: Side | None = None,
    ) -> Pair:
        """The pair of ``record`` (pulled from ``side``) and its ``counterpart``."""
        records = BySide(record, record).with_value(side.other, counterpart)
        return cls(records.partner, records.rep, link, origin)


@dataclass(frozen=True, slots=True)
class Planned:
    pair: Pair
    plan: PairPlan


@dataclass(frozen=True, slots=True)
class Write:
    """What became of the writes to one record: the properties finally ``sent`` (none when
    nothing was to be written), the record as the CRM returned it when they landed, or why
    not (``gone``: the record is archived or deleted)."""

    sent: Mapping[str, str] = field(default_factory=dict)
    written: DealRecord | None = None
    failure: str | None = None
    gone: bool = False


@dataclass(frozen=True, slots=True)
class PairOutcome:
    """A linked pair after its push: the plan as applied (refused fields held back) and the
    write to each side."""

    planned: Planned
    writes: BySide[Write]


@dataclass(frozen=True, slots=True)
class CreationOutcome:
    """A counterpart creation: the plan as sent, the record created (None, with ``failure``,
    when it was not), and the write of the link back onto the origin."""

    plan: CreationPlan
    origin: DealRecord
    created: DealRecord | None
    failure: str | None
    link_back: Write


@dataclass(frozen=True, slots=True)
class PushOutcome:
    pairs: tuple[PairOutcome, ...] = ()
    creations: tuple[CreationOutcome, ...] = ()

    def __add__(self, other: PushOutcome) -> PushOutcome:
        return PushOutcome(self.pairs + other.pairs, self.creations + other.creations)

    def without_creations(self, origin_ids: set[str]) -> PushOutcome:
        """This outcome less the creations of ``origin_ids`` (decided another way)."""
        kept = tuple(c for c in self.creations if c.plan.origin_id not in origin_ids)
        return PushOutcome(self.pairs, kept)


@dataclass(frozen=True, slots=True)
class _Landed:
    """One side's batch update, per record id."""

    written: Mapping[str, DealRecord]
    failed: Mapping[str, str]
    gone: frozenset[str]
    refused: Mapping[str, tuple[str, ...]]
    """Per failed id, the properties the CRM named as invalid."""

    @classmethod
    def of(cls, result: WriteResult) -> _Landed:
        return cls(
            written=dict(result.written),
            failed={f.id: f.reason for f in result.failed},
            gone=frozenset(f.id for f in result.failed if f.gone),
            refused={f.id: f.properties for f in result.failed if f.properties},
        )

    def write(self, record_id: str, sent: Mapping[str, str]) -> Write:
        return Write(
            sent=sent,
            written=self.written.get(record_id),
            failure=self.failed.get(record_id),
            gone=record_id in self.gone,
        )


@dataclass(frozen=True, slots=True)
class Pusher:
    """Sends one set of decided writes for one pair and reports what became of each."""

    ctx: PairContext
    writer: Writer

    def push(
        self,
        side: Side,
        planned: Sequence[Planned],
        creations: Sequence[CreationPlan],
        origins: Mapping[str, DealRecord],
    ) -> PushOutcome:
        """Create the counterparts of ``origins`` (pulled from ``side``), then send every
        update (link-backs riding along), one batch per side, then write around refusals."""
        created = self._create(side, creations, origins)
        batches: BySide[Batch] = BySide({}, {})
        for item in planned:
            for target in Side:
                if props := self._props(item, target):
                    batches[target][item.pair.record(target).id] = props
        for outcome in created:
            if outcome.created is not None:  # the link back, and what a creation asks of it
                link = self.ctx.mapping.link_value(side, outcome.created.id)
                batches[side][outcome.plan.origin_id] = {
                    **outcome.plan.origin_updates,
                    self.ctx.mapping.link_property(side): link,
                }
        landed = BySide.build(lambda s: self._update(s, batches[s]))
        pairs = self._around_refusals(planned, batches, landed)
        creations_out = tuple(_with_link_back(c, landed[side], batches[side]) for c in created)
        return PushOutcome(pairs, creations_out)

    def _props(self, item: Planned, target: Side) -> dict[str, str]:
        mapping = self.ctx.mapping
        props = dict(item.plan.updates.get(target, {}))
        wanted = mapping.link_value(target, item.pair.record(target.other).id)
        if item.pair.record(target).get(mapping.link_property(target)) != wanted:
            props[mapping.link_property(target)] = wanted
        return props

    def _update(self, side: Side, batch: Mapping[str, Mapping[str, str]]) -> _Landed:
        return _Landed.of(self.writer.update(side, [RecordUpdate(i, p) for i, p in batch.items()]))

    # --- creations ----------------------------------------------------------------------------

    def _create(
        self, side: Side, creations: Sequence[CreationPlan], origins: Mapping[str, DealRecord]
    ) -> list[CreationOutcome]:
        if not creations:
            return []
        other = side.other
        if not self.writer.dry_run:  # the intent first: a crash after the upsert converges
            self.ctx.store.add_pending(
                self.ctx.name, side, [c.origin_id for c in creations], self.ctx.clock.now()
            )
        first = self._send_creations(other, creations)
        sent, written, failures = self._create_around_refusals(other, creations, first)
        outcomes = []
        for plan in sent:
            record = written.get(plan.key)
            failure = None if record else failures.get(plan.key, "the CRM returned no record")
            outcomes.append(
                CreationOutcome(plan, origins[plan.origin_id], record, failure, Write())
            )
            if record is not None:
                log.info(
                    "counterpart_created",
                    origin_side=str(side),
                    origin_id=plan.origin_id,
                    created_on=str(other),
                    created_id=record.id,
                    dry_run=self.writer.dry_run,
                )
        return outcomes

    def _send_creations(self, target: Side, creations: Sequence[CreationPlan]) -> WriteResult:
        return self.writer.create(
            target,
            [RecordCreate(c.key, c.properties) for c in creations],
            self.ctx.mapping.link_property(target),
        )

    def _create_around_refusals(
        self, target: Side, creations: Sequence[CreationPlan], result: WriteResult
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
            second = self._send_creations(target, again)
            for plan in again:
                if plan.key in second.written:
                    written[plan.key] = second.written[plan.key]
                    del failures[plan.key]
            failures.update({f.id: f.reason for f in second.failed})
        return plans, written, failures

    # --- refused values -----------------------------------------------------------------------

    def _around_refusals(
        self, planned: Sequence[Planned], batches: BySide[Batch], landed: BySide[_Landed]
    ) -> tuple[PairOutcome, ...]:
        """A record the CRM refused for values of mapped fields it named is written again
        without them (one more batch per side): those fields are held back (rejections, their
        old base kept) and every other field lands."""
        plans = {id(item): item.plan for item in planned}
        sent: BySide[Batch] = BySide(dict(batches.partner), dict(batches.rep))
        again: BySide[Batch] = BySide({}, {})
        for item in planned:
            for side in Side:
                record_id = item.pair.record(side).id
                props = sent[side].get(record_id, {})
                fields = self._refused_fields(side, landed[side].refused.get(record_id, ()))
                if not fields or not set(fields.values()) <= props.keys():
                    continue  # nothing named, or named what was not sent: a plain failure
                base = item.pair.link.base_json if item.pair.link is not None else None
                old = BaseSnapshot.from_json(base, self.ctx.mapping) if base else None
                reason = landed[side].failed[record_id]
                plans[id(item)] = holding_back(plans[id(item)], side, fields, old, reason)
                rest = {p: v for p, v in props.items() if p not in fields.values()}
                sent[side][record_id] = rest
                if rest:
                    again[side][record_id] = rest
        second = BySide.build(lambda s: self._update(s, again[s]) if again[s] else None)

        def writes(item: Planned) -> BySide[Write]:
            def write(side: Side) -> Write:
                record_id = item.pair.record(side).id
                retried = second[side] if record_id in again[side] else None
                return _final_write(record_id, sent[side], landed[side], retried)

            return BySide.build(write)

        return tuple(
            PairOutcome(Planned(item.pair, plans[id(item)]), writes(item)) for item in planned
        )

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


def _final_write(record_id: str, sent: Batch, first: _Landed, retried: _Landed | None) -> Write:
    """The write to one record, from its second batch when it was resent: a record left with
    nothing to send once its refused fields were held back stands as it is."""
    props = sent.get(record_id, {})
    if record_id in first.refused and record_id in sent and not props:
        return Write()
    if retried is None:
        return first.write(record_id, props)
    if record_id in retried.written or record_id in retried.failed:
        return retried.write(record_id, props)
    return Write(sent=props, failure="the CRM returned no record")


def _with_link_back(outcome: CreationOutcome, landed: _Landed, batch: Batch) -> CreationOutcome:
    if outcome.created is None:
        return outcome
    origin_id = outcome.plan.origin_id
    return CreationOutcome(
        outcome.plan,
        outcome.origin,
        outcome.created,
        outcome.failure,
        landed.write(origin_id, batch.get(origin_id, {})),
    )
