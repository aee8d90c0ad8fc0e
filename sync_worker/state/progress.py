"""How far behind a pair is, for ``status``: the start of its last complete cycle, and why its
last failed cycle failed.

A cycle that ended ``ok`` pulled every change made before it started, on both sides, so the pair
is in sync up to that moment; the lag is the time since. The newest change *seen* (the cursor)
says nothing about lag: a quiet portal has an old newest change and no lag at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from sync_worker.state.schema import runs

INBOX_MODE = "inbox"
"""The run mode of a cycle (or discovery) that only took its inbox, woken by a webhook between
two polls: it searched nothing, so it never counts as the pair being in sync up to its start."""


@dataclass(frozen=True, slots=True)
class PairProgress:
    pair: str
    synced_up_to: datetime | None
    """Start of the pair's last cycle that ended ``ok`` (None: never complete)."""
    last_failure_at: datetime | None
    last_failure: str | None
    """The error of the pair's newest failed cycle."""


def pair_progress(conn: Connection, pair: str) -> PairProgress:
    complete = conn.execute(
        select(runs.c.started_at)
        .where(runs.c.pair == pair, runs.c.outcome == "ok", runs.c.mode != INBOX_MODE)
        .order_by(runs.c.started_at.desc())
        .limit(1)
    ).first()
    failed = conn.execute(
        select(runs.c.ended_at, runs.c.started_at, runs.c.error)
        .where(runs.c.pair == pair, runs.c.outcome == "failed")
        .order_by(runs.c.started_at.desc())
        .limit(1)
    ).first()
    return PairProgress(
        pair=pair,
        synced_up_to=None if complete is None else complete.started_at,
        last_failure_at=None if failed is None else (failed.ended_at or failed.started_at),
        last_failure=None if failed is None else (failed.error or "failed"),
    )
