"""One pair's working set: its mapping, its two connectors, the store and the clock."""

from __future__ import annotations

from dataclasses import dataclass

from sync_worker.connectors.base import Connector
from sync_worker.kernel.clock import Clock
from sync_worker.kernel.model import BySide, Side
from sync_worker.rules.mapping import SyncMapping
from sync_worker.state.base import StateStore


@dataclass(frozen=True, slots=True)
class PairContext:
    """Everything one pair's cycle needs; built once, shared by every cycle of the pair."""

    name: str
    mapping: SyncMapping
    partner: Connector
    rep: Connector
    store: StateStore
    clock: Clock
    interval_seconds: int = 300
    dead_letter_max_attempts: int = 10
    lease_ttl_seconds: float = 30.0
    """How long the pair's lease outlives its last renewal; a heartbeat renews it every third
    of that while a cycle runs, so a holder that died (on any host) is replaced within it."""
    discovered: bool = False
    """The pair's rep changes are found by rep discovery (one pull for every pair on the rep
    endpoint, :mod:`sync_worker.sync.discovery`) and reach it through its inbox; its own rep
    pull then runs only for its first sync and for a backfill."""

    def connector(self, side: Side) -> Connector:
        return BySide(self.partner, self.rep)[side]
