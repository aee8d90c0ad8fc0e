"""The writes of :meth:`SqlStateStore.commit_page`, each one atomic SQL inside the caller's
transaction. Upserts use the dialect's ``INSERT ... ON CONFLICT``, so the same code runs on
SQLite and PostgreSQL and no value is read in Python and written back (no lost updates).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Connection, Table, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from sync_worker.kernel.errors import LinkRepointed
from sync_worker.kernel.model import Side
from sync_worker.state.base import (
    ChangeEntry,
    ConflictEntry,
    CursorMark,
    DeadLetter,
    LinkState,
    LinkStatus,
    PageCommit,
)
from sync_worker.state.schema import (
    OPEN_ONLY,
    changes,
    conflicts,
    cursors,
    dead_letters,
    links,
    pending,
)

CHUNK = 500


def chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    """``ids`` without repeats, in slices small enough for any database's parameter limit."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), CHUNK):
        yield unique[start : start + CHUNK]


def insert_for(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` with ``on_conflict_*`` support for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def apply_page(conn: Connection, pair: str, commit: PageCommit, now: datetime) -> None:
    """Write everything ``commit`` describes; the caller owns the transaction."""
    upsert_links(conn, pair, commit.links, now)
    _log_changes(conn, pair, commit.changes)
    _close_conflicts(conn, pair, commit.closed_conflicts, now)
    _open_conflicts(conn, pair, commit.conflicts)
    _resolve_dead_letters(conn, pair, commit.resolved_dead_letters)
    _add_dead_letters(conn, pair, commit.dead_letters, now)
    _clear_pending(conn, pair, commit.pending_done)
    if commit.cursor is not None:
        if commit.cursor_side is None:
            raise ValueError("PageCommit.cursor needs cursor_side")
        advance_cursor(conn, pair, commit.cursor_side, commit.cursor, now)


# Every column but the key and created_at: a link upsert replaces the stored state.
_LINK_UPDATES = (
    "rep_id",
    "status",
    "base_json",
    "base_at",
    "partner_written_at",
    "rep_written_at",
    "partner_seen",
    "rep_seen",
    "out_of_scope",
    "updated_at",
)


def upsert_links(conn: Connection, pair: str, items: Sequence[LinkState], now: datetime) -> None:
    """Upsert by (pair, partner_id); raises LinkRepointed if a non-pending link's rep
    id would change (the guarded update skips such a row, and the read-back catches it)."""
    if not items:
        return
    ins = insert_for(conn, links)
    new = ins.excluded
    stmt = ins.on_conflict_do_update(
        index_elements=[links.c.pair, links.c.partner_id],
        set_={
            **{name: new[name] for name in _LINK_UPDATES},
            # Once recorded, the origin stays: a page that does not know it sends None.
            "origin": func.coalesce(links.c.origin, new.origin),
        },
        where=or_(links.c.rep_id == new.rep_id, links.c.status == LinkStatus.PENDING.value),
    )
    conn.execute(stmt, [_link_row(pair, link, now) for link in items])
    wanted = {link.partner_id: link.rep_id for link in items}
    for chunk in chunks(list(wanted)):
        query = select(links.c.partner_id, links.c.rep_id).where(
            links.c.pair == pair, links.c.partner_id.in_(chunk)
        )
        for partner_id, rep_id in conn.execute(query):
            if wanted[partner_id] != rep_id:
                raise LinkRepointed(
                    f"pair {pair!r}: link of partner deal {partner_id} is not pending; "
                    f"its rep deal cannot change from {rep_id} to {wanted[partner_id]}"
                )


def _link_row(pair: str, link: LinkState, now: datetime) -> dict[str, object]:
    return {
        "pair": pair,
        "partner_id": link.partner_id,
        "rep_id": link.rep_id,
        "status": link.status,
        "base_json": link.base_json,
        "base_at": link.base_at,
        "partner_written_at": link.partner_written_at,
        "rep_written_at": link.rep_written_at,
        "partner_seen": link.partner_seen,
        "rep_seen": link.rep_seen,
        "origin": None if link.origin is None else link.origin.value,
        "out_of_scope": link.out_of_scope,
        "created_at": now,
        "updated_at": now,
    }


def _log_changes(conn: Connection, pair: str, items: Sequence[ChangeEntry]) -> None:
    if not items:
        return
    rows = [
        {
            "pair": pair,
            "partner_id": c.partner_id,
            "rep_id": c.rep_id,
            "side_written": c.side_written.value,
            "field": c.field,
            "old_value": c.old_value,
            "new_value": c.new_value,
            "rule": c.rule,
            "reason": c.reason,
            "at": c.at,
            "run_id": c.run_id,
        }
        for c in items
    ]
    conn.execute(changes.insert(), rows)


def _open_conflicts(conn: Connection, pair: str, items: Sequence[ConflictEntry]) -> None:
    for c in items:
        ins = insert_for(conn, conflicts).values(
            pair=pair,
            partner_id=c.partner_id,
            rep_id=c.rep_id,
            field=c.field,
            partner_value=c.partner_value,
            rep_value=c.rep_value,
            base_value=c.base_value,
            detected_at=c.detected_at,
            status="open",
        )
        new = ins.excluded
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[conflicts.c.pair, conflicts.c.partner_id, conflicts.c.field],
                index_where=OPEN_ONLY,
                set_={
                    "rep_id": new.rep_id,
                    "partner_value": new.partner_value,
                    "rep_value": new.rep_value,
                    "base_value": new.base_value,
                    "detected_at": new.detected_at,
                },
            )
        )


def _close_conflicts(
    conn: Connection, pair: str, keys: Sequence[tuple[str, str]], now: datetime
) -> None:
    by_field: dict[str, list[str]] = {}
    for partner_id, field in keys:
        by_field.setdefault(field, []).append(partner_id)
    for field, partner_ids in by_field.items():  # one statement per field and chunk
        for chunk in _chunked(sorted(set(partner_ids))):
            conn.execute(
                conflicts.update()
                .where(
                    conflicts.c.pair == pair,
                    conflicts.c.partner_id.in_(chunk),
                    conflicts.c.field == field,
                    conflicts.c.status == "open",
                )
                .values(status="resolved", resolution="converged", resolved_at=now)
            )


def _add_dead_letters(
    conn: Connection, pair: str, items: Sequence[DeadLetter], now: datetime
) -> None:
    for letter in items:
        first_at = letter.first_at or letter.last_at or now
        ins = insert_for(conn, dead_letters).values(
            pair=pair,
            side=letter.side.value,
            record_id=letter.record_id,
            reason=letter.reason,
            attempts=letter.attempts,
            first_at=first_at,
            last_at=letter.last_at or first_at,
            next_attempt_at=letter.next_attempt_at,
            status="open",
        )
        new = ins.excluded
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[dead_letters.c.pair, dead_letters.c.side, dead_letters.c.record_id],
                index_where=OPEN_ONLY,
                set_={
                    # Incremented by the database: concurrent writers cannot lose a count.
                    "attempts": dead_letters.c.attempts + 1,
                    "reason": new.reason,
                    "last_at": new.last_at,
                    "next_attempt_at": new.next_attempt_at,
                },
            )
        )


def _resolve_dead_letters(conn: Connection, pair: str, keys: Sequence[tuple[Side, str]]) -> None:
    """Close the open letters of these records: one statement per side and chunk, since nearly
    every processed record is listed here and almost none has a letter."""
    for side, ids in _ids_by_side(keys):
        conn.execute(
            dead_letters.update()
            .where(
                dead_letters.c.pair == pair,
                dead_letters.c.side == side.value,
                dead_letters.c.record_id.in_(ids),
                dead_letters.c.status == "open",
            )
            .values(status="resolved")
        )


def _clear_pending(conn: Connection, pair: str, keys: Sequence[tuple[Side, str]]) -> None:
    for side, ids in _ids_by_side(keys):
        conn.execute(
            pending.delete().where(
                pending.c.pair == pair,
                pending.c.origin_side == side.value,
                pending.c.origin_id.in_(ids),
            )
        )


_IN_CHUNK = 500  # well under SQLite's bound-parameter limit


def _ids_by_side(keys: Sequence[tuple[Side, str]]) -> Iterator[tuple[Side, list[str]]]:
    for side in Side:
        for chunk in _chunked(sorted({record_id for s, record_id in keys if s is side})):
            yield side, chunk


def _chunked(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield list(ids[start : start + _IN_CHUNK])


def advance_cursor(
    conn: Connection, pair: str, side: Side, cursor: datetime, now: datetime
) -> None:
    """Set the cursor unless the stored one is newer (a MAX done by the database)."""
    advance_cursors(conn, [CursorMark(pair, side, cursor)], now)


def advance_cursors(conn: Connection, marks: Sequence[CursorMark], now: datetime) -> None:
    """:func:`advance_cursor` for many cursors in one batched statement (a discovery page moves
    the rep cursor of every pair of its group; for 1,000 pairs on a local PostgreSQL a statement
    each took 1.5 s, this 0.05 s)."""
    newest: dict[tuple[str, Side], datetime] = {}
    for mark in marks:  # one row per key: PostgreSQL refuses to update a row twice
        key = (mark.key, mark.side)
        newest[key] = max(newest.get(key, mark.at), mark.at)
    rows = [
        {"pair": key, "side": side.value, "cursor": at, "updated_at": now}
        for (key, side), at in newest.items()
    ]
    if not rows:
        return
    ins = insert_for(conn, cursors)
    statement = ins.on_conflict_do_update(
        index_elements=[cursors.c.pair, cursors.c.side],
        set_={"cursor": ins.excluded.cursor, "updated_at": ins.excluded.updated_at},
        where=cursors.c.cursor < ins.excluded.cursor,
    )
    conn.execute(statement, rows)  # executemany: SQLAlchemy batches the rows
