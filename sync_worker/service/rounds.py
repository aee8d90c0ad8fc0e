"""A round: rep discovery for the endpoints of some pairs, then one cycle of each pair.

What ``once`` and the demo run. The daemon runs the same two steps on schedules of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sync_worker.runtime.wiring import Runtime
from sync_worker.sync.discoverer import DiscoverOptions, DiscoveryReport, discover
from sync_worker.sync.engine import PROCESS_OWNER, CycleOptions, CycleReport, run_cycle


@dataclass(frozen=True, slots=True)
class RoundReport:
    discoveries: tuple[DiscoveryReport, ...]
    cycles: tuple[CycleReport, ...]


def run_round(
    runtime: Runtime, names: Sequence[str], options: CycleOptions | None = None
) -> RoundReport:
    """Discover the rep endpoints of ``names`` (skipped for a dry run: discovery writes the
    inbox), then run a cycle of each pair in order. A failed discovery leaves its ids for the
    next round; the pairs still sync their partner side and what is already queued."""
    opts = options or CycleOptions()
    found: list[DiscoveryReport] = []
    if not opts.dry_run:
        ttl = runtime.config.settings.worker.lease_ttl_seconds
        for discovery in runtime.discoveries_for(names):
            found.append(
                discover(
                    discovery,
                    runtime.store,
                    runtime.clock,
                    DiscoverOptions(owner=PROCESS_OWNER, lease_ttl_seconds=ttl, stop=opts.stop),
                )
            )
    cycles = [run_cycle(runtime.pairs[name], _fresh(opts)) for name in names]
    return RoundReport(tuple(found), tuple(cycles))


def _fresh(opts: CycleOptions) -> CycleOptions:
    """Each cycle its own run id."""
    return replace(opts, run_id=CycleOptions().run_id)
