"""Database rows <-> the frozen values of :mod:`sync_worker.state.base`."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from sync_worker.kernel.model import Side
from sync_worker.state.base import (
    ChangeEntry,
    ConflictEntry,
    DeadLetter,
    LinkState,
    LinkStatus,
    RunRecord,
)


def link(row: Row[Any]) -> LinkState:
    return LinkState(
        partner_id=row.partner_id,
        rep_id=row.rep_id,
        status=LinkStatus(row.status),
        base_json=row.base_json,
        base_at=row.base_at,
        partner_written_at=row.partner_written_at,
        rep_written_at=row.rep_written_at,
        partner_seen=row.partner_seen,
        rep_seen=row.rep_seen,
        origin=None if row.origin is None else Side(row.origin),
        out_of_scope=row.out_of_scope,
    )


def change(row: Row[Any]) -> ChangeEntry:
    return ChangeEntry(
        partner_id=row.partner_id,
        rep_id=row.rep_id,
        side_written=Side(row.side_written),
        field=row.field,
        old_value=row.old_value,
        new_value=row.new_value,
        rule=row.rule,
        reason=row.reason,
        at=row.at,
        run_id=row.run_id,
    )


def conflict(row: Row[Any]) -> ConflictEntry:
    return ConflictEntry(
        id=row.id,
        partner_id=row.partner_id,
        rep_id=row.rep_id,
        field=row.field,
        partner_value=row.partner_value,
        rep_value=row.rep_value,
        base_value=row.base_value,
        detected_at=row.detected_at,
        status=row.status,
        resolution=row.resolution,
        resolved_at=row.resolved_at,
    )


def dead_letter(row: Row[Any]) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        side=Side(row.side),
        record_id=row.record_id,
        reason=row.reason,
        attempts=row.attempts,
        first_at=row.first_at,
        last_at=row.last_at,
        next_attempt_at=row.next_attempt_at,
        status=row.status,
    )


def run(row: Row[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        pair=row.pair,
        mode=row.mode,
        started_at=row.started_at,
        ended_at=row.ended_at,
        outcome=row.outcome,
        counts={str(k): int(v) for k, v in json.loads(row.counts).items()},
        error=row.error,
    )


def run_values(record: RunRecord) -> dict[str, Any]:
    return {
        "run_id": record.run_id,
        "pair": record.pair,
        "mode": record.mode,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "outcome": record.outcome,
        "counts": json.dumps(dict(record.counts)),
        "error": record.error,
    }
