"""The ``--json`` documents: stable, documented shapes for scripts (see the README).

Times are ISO-8601 strings with their UTC offset (or null), durations are seconds, values are
the display strings the tables show (null for no value). New keys may be added; existing keys
keep their meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sync_worker.ops.explain import Explanation
from sync_worker.state.base import ChangeEntry, ConflictEntry, DeadLetter, PairStatus
from sync_worker.state.progress import PairProgress

SCHEMA_VERSION = 1


def outcome(row: PairStatus) -> str:
    """The last run's outcome; ``running`` or ``interrupted`` when it has none."""
    return row.outcome


def lag_seconds(progress: PairProgress, now: datetime) -> float | None:
    """Seconds since the pair was last completely in sync (None: never)."""
    if progress.synced_up_to is None:
        return None
    return max(0.0, round((now - progress.synced_up_to).total_seconds(), 3))


def status_document(
    rows: Sequence[PairStatus], progress: Sequence[PairProgress], now: datetime
) -> dict[str, Any]:
    by_pair = {p.pair: p for p in progress}
    return {
        "schema": SCHEMA_VERSION,
        "now": now,
        "pairs": [_pair_status(row, by_pair[row.pair], now) for row in rows],
    }


def _pair_status(row: PairStatus, progress: PairProgress, now: datetime) -> dict[str, Any]:
    last = row.last_run
    return {
        "pair": row.pair,
        "outcome": outcome(row),
        "last_run": None
        if last is None
        else {
            "run_id": last.run_id,
            "mode": last.mode,
            "started_at": last.started_at,
            "ended_at": last.ended_at,
            "error": last.error,
        },
        "synced_up_to": progress.synced_up_to,
        "lag_seconds": lag_seconds(progress, now),
        # Where each side's next pull starts: the last pull's start less the index-lag allowance.
        "next_pull_from": {"partner": row.partner_cursor, "rep": row.rep_cursor},
        # Changed deals queued for the pair's next cycle (rep discovery, webhooks).
        "inbox": {"depth": row.inbox, "oldest_queued_at": row.inbox_since},
        "links": row.links,
        "linked_out_of_scope": row.out_of_scope,
        "open_conflicts": row.open_conflicts,
        "dead_letters": row.dead_letters,
        "consecutive_failures": row.consecutive_failures,
        "last_failure": None
        if progress.last_failure is None
        else {"at": progress.last_failure_at, "reason": progress.last_failure},
        "held_by": row.lease_holder,
    }


def conflict(pair: str, c: ConflictEntry) -> dict[str, Any]:
    return {
        "id": c.id,
        "pair": pair,
        "partner_deal": c.partner_id,
        "rep_deal": c.rep_id,
        "field": c.field,
        "partner_value": c.partner_value,
        "rep_value": c.rep_value,
        "base_value": c.base_value,
        "detected_at": c.detected_at,
    }


def conflicts_document(rows: Iterable[tuple[str, ConflictEntry]]) -> dict[str, Any]:
    return {"schema": SCHEMA_VERSION, "conflicts": [conflict(pair, c) for pair, c in rows]}


def dead_letters_document(rows: Iterable[tuple[str, DeadLetter]]) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "dead_letters": [
            {
                "id": d.id,
                "pair": pair,
                "side": str(d.side),
                "deal": d.record_id,
                "attempts": d.attempts,
                "first_at": d.first_at,
                "last_at": d.last_at,
                "next_attempt_at": d.next_attempt_at,  # null: parked, retried only by hand
                "reason": d.reason,
            }
            for pair, d in rows
        ],
    }


def _change(h: ChangeEntry) -> dict[str, Any]:
    return {
        "at": h.at,
        "written_to": str(h.side_written),
        "field": h.field,
        "old_value": h.old_value,
        "new_value": h.new_value,
        "rule": h.rule,
        "reason": h.reason,
        "run_id": h.run_id,
    }


def explanation_document(exp: Explanation) -> dict[str, Any]:
    link = exp.link
    return {
        "schema": SCHEMA_VERSION,
        "pair": exp.pair,
        "deal_id": exp.deal_id,
        "link": None
        if link is None
        else {"partner_deal": link.partner_id, "rep_deal": link.rep_id, "status": link.status},
        "base_agreed_at": exp.base_at,
        "note": exp.note,
        "fields": [
            {
                "field": f.field,
                "rule": f.rule,
                "direction": f.direction,
                "partner_value": f.partner_value,
                "rep_value": f.rep_value,
                "base_value": f.base_value,
                "decision": f.decision,
            }
            for f in exp.fields
        ],
        "history": [_change(h) for h in exp.history],
        "conflicts": [conflict(exp.pair, c) for c in exp.conflicts],
    }
