"""The queries behind ``sync-worker status``: one row per pair."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, or_, select

from sync_worker.kernel.model import Side
from sync_worker.state import inbox, rows
from sync_worker.state.base import LinkStatus, PairStatus
from sync_worker.state.schema import conflicts, cursors, dead_letters, links, runs


def count_active_links(conn: Connection, pair: str) -> int:
    query = select(func.count()).where(
        links.c.pair == pair, links.c.status == LinkStatus.ACTIVE.value
    )
    return int(conn.execute(query).scalar_one())


def pair_status(conn: Connection, pair: str) -> PairStatus:
    query = select(cursors.c.side, cursors.c.cursor).where(cursors.c.pair == pair)
    found: dict[str, datetime] = {row.side: row.cursor for row in conn.execute(query)}
    last = conn.execute(
        select(runs).where(runs.c.pair == pair).order_by(runs.c.started_at.desc()).limit(1)
    ).first()
    open_conflicts = select(func.count()).where(
        conflicts.c.pair == pair, conflicts.c.status == "open"
    )
    open_letters = select(func.count()).where(
        dead_letters.c.pair == pair, dead_letters.c.status == "open"
    )
    queued, since = inbox.depth(conn, pair)
    return PairStatus(
        pair=pair,
        last_run=None if last is None else rows.run(last),
        partner_cursor=found.get(Side.PARTNER.value),
        rep_cursor=found.get(Side.REP.value),
        links=count_active_links(conn, pair),
        open_conflicts=int(conn.execute(open_conflicts).scalar_one()),
        dead_letters=int(conn.execute(open_letters).scalar_one()),
        consecutive_failures=_consecutive_failures(conn, pair),
        out_of_scope=_out_of_scope(conn, pair),
        inbox=queued,
        inbox_since=since,
    )


def _out_of_scope(conn: Connection, pair: str) -> int:
    query = select(func.count()).where(
        links.c.pair == pair, links.c.status == "active", links.c.out_of_scope.is_not(None)
    )
    return int(conn.execute(query).scalar_one())


def _consecutive_failures(conn: Connection, pair: str) -> int:
    last_good = (
        select(func.max(runs.c.started_at))
        .where(runs.c.pair == pair, runs.c.outcome.is_not(None), runs.c.outcome != "failed")
        .scalar_subquery()
    )
    query = select(func.count()).where(
        runs.c.pair == pair,
        runs.c.outcome == "failed",
        or_(last_good.is_(None), runs.c.started_at > last_good),
    )
    return int(conn.execute(query).scalar_one())
