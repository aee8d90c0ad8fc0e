"""The daemons sharing one store (SQL): each beats every few seconds; the live ones, in a stable
order, split the pairs between them (:mod:`sync_worker.service.sharing`).

A replica is live while its last beat is younger than the TTL, and on the same machine while
its process exists (a SIGKILLed daemon is gone at once, as with leases)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select

from sync_worker.state.holder import THIS_NODE, holder_gone
from sync_worker.state.page import insert_for
from sync_worker.state.schema import inbox, replicas


def beat(conn: Connection, owner: str, pid: int, now: datetime, ttl_seconds: float) -> list[str]:
    """Record ``owner``'s beat, forget dead replicas, and return the live ones, sorted."""
    ins = insert_for(conn, replicas).values(
        owner=owner, node=THIS_NODE, pid=pid, started_at=now, seen_at=now
    )
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[replicas.c.owner], set_={"seen_at": ins.excluded.seen_at}
        )
    )
    stale = now - timedelta(seconds=ttl_seconds)
    rows = conn.execute(
        select(replicas.c.owner, replicas.c.node, replicas.c.pid, replicas.c.seen_at)
    )
    dead = [
        r.owner
        for r in rows
        if r.owner != owner and (r.seen_at < stale or holder_gone(r.node, r.pid))
    ]
    if dead:
        conn.execute(delete(replicas).where(replicas.c.owner.in_(dead)))
    live = conn.execute(select(replicas.c.owner).order_by(replicas.c.owner)).scalars()
    return list(live)


def leave(conn: Connection, owner: str) -> None:
    conn.execute(delete(replicas).where(replicas.c.owner == owner))


def inbox_heads(conn: Connection) -> dict[str, datetime]:
    """Every inbox key holding entries, with its newest queuing."""
    query = select(inbox.c.key, func.max(inbox.c.queued_at)).group_by(inbox.c.key)
    return {row[0]: row[1] for row in conn.execute(query)}
