"""Where planned writes go: the CRMs (real runs) or a record of intentions (``--dry-run``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sync_worker.connectors.base import Connector, RecordCreate, RecordUpdate, WriteResult
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.model import DealRecord, Side
from sync_worker.state.base import LinkState, PageCommit, StateStore


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


class DryRunStore:
    """The state a dry run sees: the real store for reads, plus everything the dry run would
    have committed, held in memory. So a dry run decides exactly as the real run would (a pair
    settled on one side's page is not planned again on the other's), and the real state is
    never written."""

    def __init__(self, real: StateStore) -> None:
        self._real = real
        self._links: dict[tuple[Side, str], LinkState] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def links_by_ids(self, pair: str, side: Side, ids: Sequence[str]) -> dict[str, LinkState]:
        found = self._real.links_by_ids(pair, side, ids)
        for deal_id in ids:
            if (side, deal_id) in self._links:
                found[deal_id] = self._links[(side, deal_id)]
        return found

    def commit_page(self, pair: str, commit: PageCommit) -> None:  # noqa: ARG002 - one pair
        for link in commit.links:
            self._links[(Side.PARTNER, link.partner_id)] = link
            self._links[(Side.REP, link.rep_id)] = link

    def add_pending(
        self, pair: str, origin_side: Side, origin_ids: Sequence[str], at: object
    ) -> None:
        """A dry run creates nothing, so nothing is in flight."""
