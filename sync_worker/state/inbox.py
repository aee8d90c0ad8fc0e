"""The inbox of changed deals (SQL): queue, read oldest first, drain what a page processed.

A row per (key, side, id): queuing an id again only moves its ``queued_at`` forward, so a burst of
changes to one deal costs one read. Draining deletes a row only if it was not queued again after
the entry the cycle read; a change that landed after that read stays queued for the next cycle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, select

from sync_worker.kernel.model import DealRecord, Side
from sync_worker.state.base import InboxEntry, Taken
from sync_worker.state.page import insert_for
from sync_worker.state.schema import UtcMicros, inbox

_ROWS_PER_STATEMENT = 500  # below SQLite's and psycopg's parameter limits at six columns a row


def queue(conn: Connection, entries: Sequence[InboxEntry]) -> None:
    """Insert ``entries``, or move ``queued_at`` forward where the id is already queued."""
    latest: dict[tuple[str, Side, str], InboxEntry] = {}
    first: dict[tuple[str, Side, str], datetime] = {}
    for entry in entries:
        key = (entry.key, entry.side, entry.record_id)
        if key not in latest or latest[key].queued_at < entry.queued_at:
            latest[key] = entry
        first[key] = min(first.get(key, entry.queued_at), entry.queued_at)
    rows = [
        {
            "key": e.key,
            "side": e.side.value,
            "record_id": e.record_id,
            "source": e.source,
            "first_queued_at": first[key],
            "queued_at": e.queued_at,
            "payload": _encode(e.record),
        }
        for key, e in latest.items()
    ]
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        ins = insert_for(conn, inbox).values(rows[start : start + _ROWS_PER_STATEMENT])
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[inbox.c.key, inbox.c.side, inbox.c.record_id],
                set_={
                    "queued_at": ins.excluded.queued_at,
                    "source": ins.excluded.source,
                    "payload": ins.excluded.payload,
                },
                where=inbox.c.queued_at < ins.excluded.queued_at,
            )
        )


def drain(conn: Connection, key: str, taken: Sequence[Taken]) -> None:
    """Delete the entries a cycle processed, unless queued again since it read them."""
    if not taken:
        return
    statement = delete(inbox).where(
        inbox.c.key == key,
        inbox.c.side == bindparam("_side"),
        inbox.c.record_id == bindparam("_id"),
        inbox.c.queued_at <= bindparam("_at", type_=UtcMicros),
    )
    conn.execute(
        statement,
        [{"_side": t.side.value, "_id": t.record_id, "_at": t.queued_at} for t in taken],
    )


def oldest(conn: Connection, key: str, side: Side, limit: int) -> list[InboxEntry]:
    query = (
        select(inbox)
        .where(inbox.c.key == key, inbox.c.side == side.value)
        .order_by(inbox.c.first_queued_at, inbox.c.record_id)
        .limit(limit)
    )
    return [
        InboxEntry(
            row.key,
            Side(row.side),
            row.record_id,
            row.source,
            row.queued_at,
            _decode(row.record_id, row.payload),
        )
        for row in conn.execute(query)
    ]


def _encode(record: DealRecord | None) -> str | None:
    if record is None:
        return None
    document = {"properties": dict(record.properties), "modified_at": record.modified_at}
    return json.dumps(document, default=datetime.isoformat, separators=(",", ":"))


def _decode(record_id: str, payload: str | None) -> DealRecord | None:
    if payload is None:
        return None
    document = json.loads(payload)
    modified = datetime.fromisoformat(document["modified_at"])
    return DealRecord(record_id, document["properties"], modified)


def depth(conn: Connection, key: str) -> tuple[int, datetime | None]:
    """How many entries ``key`` holds, and when the oldest was first queued."""
    count, since = conn.execute(
        select(func.count(), func.min(inbox.c.first_queued_at)).where(inbox.c.key == key)
    ).one()
    return int(count), since


__all__ = ["depth", "drain", "oldest", "queue"]
