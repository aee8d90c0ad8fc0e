"""Where planned writes go: the CRMs (real runs) or a record of intentions (``--dry-run``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sync_worker.connectors.base import (
    Connector,
    RecordCreate,
    RecordFailure,
    RecordUpdate,
    WriteResult,
)
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.model import DealRecord, Side


class Writer(Protocol):
    """Applies writes to one side; returns what landed and what failed, per record."""

    dry_run: bool

    def update(self, side: Side, updates: Sequence[RecordUpdate]) -> WriteResult: ...

    def create(self, side: Side, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        """Create records whose unique ``id_property`` holds each create's key; a key already
        held fails (nothing is overwritten or duplicated)."""
        ...


@dataclass(slots=True)
class CrmWriter:
    """Writes through the pair's connectors."""

    connectors: Mapping[Side, Connector]
    dry_run: bool = False

    def update(self, side: Side, updates: Sequence[RecordUpdate]) -> WriteResult:
        if not updates:
            return WriteResult(written={})
        return self.connectors[side].update(updates)

    def create(self, side: Side, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        if not creates:
            return WriteResult(written={})
        return self.connectors[side].create(creates, id_property)


@dataclass(frozen=True, slots=True)
class Intention:
    """A write a dry run would have made."""

    side: Side
    action: str  # "update" or "create"
    record_id: str
    properties: Mapping[str, str]


@dataclass(slots=True)
class DryRunWriter:
    """Writes nothing; remembers every write it was asked for and pretends it landed (a
    creation whose key a deal already holds fails, as it would for real, so the dry run pairs
    that deal instead)."""

    clock: Clock
    connectors: Mapping[Side, Connector]
    intentions: list[Intention] = field(default_factory=list)
    dry_run: bool = True

    def update(self, side: Side, updates: Sequence[RecordUpdate]) -> WriteResult:
        now = self.clock.now()
        for update in updates:
            self.intentions.append(Intention(side, "update", update.id, dict(update.properties)))
        return WriteResult(
            written={u.id: DealRecord(u.id, dict(u.properties), now) for u in updates}
        )

    def create(self, side: Side, creates: Sequence[RecordCreate], id_property: str) -> WriteResult:
        if not creates:
            return WriteResult(written={})
        held = self.connectors[side].read([c.key for c in creates], [], id_property=id_property)
        now = self.clock.now()
        written = {}
        for create in creates:
            if create.key in held.found:
                continue
            new_id = f"(new {side} deal for {create.key})"
            self.intentions.append(Intention(side, "create", new_id, dict(create.properties)))
            written[create.key] = DealRecord(new_id, dict(create.properties), now)
        failed = tuple(
            RecordFailure(key, f"a deal already holds {id_property}={key}") for key in held.found
        )
        return WriteResult(written=written, failed=failed)
