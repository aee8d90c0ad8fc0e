"""A pair's sync log: each cycle from the run log, with its counts under display names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sync_worker.state.base import RunRecord


@dataclass(frozen=True, slots=True)
class RunLine:
    run_id: str
    mode: str
    started_at: datetime
    outcome: str
    duration: float | None
    """Seconds; None while the cycle runs (or if its process died)."""
    pulled: str
    created: str
    updated: str
    changes: int
    conflicts: int
    rejected: int
    dead_lettered: int
    api_calls: int
    error: str | None


def _per_side(counts: dict[str, int], name: str) -> str:
    return f"{counts.get(f'{name}.partner', 0)} / {counts.get(f'{name}.rep', 0)}"


def run_line(run: RunRecord) -> RunLine:
    counts = dict(run.counts)
    ended = run.ended_at
    return RunLine(
        run_id=run.run_id,
        mode=run.mode,
        started_at=run.started_at,
        outcome=run.outcome or "running or interrupted",
        duration=None if ended is None else round((ended - run.started_at).total_seconds(), 3),
        pulled=_per_side(counts, "pulled"),
        created=_per_side(counts, "created"),
        updated=_per_side(counts, "updated"),
        changes=counts.get("fields_changed", 0),
        conflicts=counts.get("conflicts", 0),
        rejected=counts.get("rejected", 0),
        dead_lettered=counts.get("dead_lettered", 0),
        api_calls=counts.get("api_calls", 0),
        error=run.error,
    )


def run_lines(runs: Sequence[RunRecord]) -> list[RunLine]:
    return [run_line(run) for run in runs]
