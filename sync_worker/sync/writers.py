"""Where planned writes go: the CRMs (real runs) or a record of intentions (``--dry-run``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sync_worker.connectors.base import Connector, RecordCreate, RecordUpdate, WriteResult
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.model import DealRecord, Side


class Writer(Protocol):
    """Applies writes to one side; returns what landed and what failed, per record."""

    dry_run: bool

    def update(self, side: Side, updates: Sequence[RecordUpdate]) -> WriteResult: ...

    def upsert(
        self, side: Side, creates: Sequence[RecordCreate], id_property: str
    ) -> WriteResult: ...


@dataclass(slots=True)
class CrmWriter:
    """Writes through the pair's connectors."""

    connectors: Mapping[Side, Connector]
    dry_run: bool = False

    def update(self, side: Side, updates: Sequence[RecordUpdate]) -> WriteResult:
        if not updates:
            return WriteResult(written={})
        return self.connectors[side].update(updates)

    def upsert(self, side: Side, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        if not creates:
            return WriteResult(written={})
        return self.connectors[side].upsert(creates, id_property)


@dataclass(frozen=True, slots=True)
class Intention:
    """A write a dry run would have made."""

    side: Side
    action: str  # "update" or "create"
    record_id: str
    properties: Mapping[str, str]


@dataclass(slots=True)
class DryRunWriter:
    """Writes nothing; remembers every write it was asked for and pretends it landed."""

    clock: Clock
    intentions: list[Intention] = field(default_factory=list)
    dry_run: bool = True

    def update(self, side: Side, updates: Sequence[RecordUpdate]) -> WriteResult:
        now = self.clock.now()
        for update in updates:
            self.intentions.append(Intention(side, "update", update.id, dict(update.properties)))
        return WriteResult(
            written={u.id: DealRecord(u.id, dict(u.properties), now) for u in updates}
        )

    def upsert(
        self,
        side: Side,
        creates: Sequence[RecordCreate],
        id_property: str,  # noqa: ARG002 - part of the Writer protocol
    ) -> WriteResult:
        now = self.clock.now()
        written = {}
        for create in creates:
            new_id = f"(new {side} deal for {create.key})"
            self.intentions.append(Intention(side, "create", new_id, dict(create.properties)))
            written[create.key] = DealRecord(new_id, dict(create.properties), now)
        return WriteResult(written=written)
