"""Leases: at most one process works on a pair at a time.

Two implementations behind one small interface:

* :class:`AdvisoryLeases` (PostgreSQL, where replicas share a store): a session advisory lock
  held on a **dedicated** psycopg connection per held lease. Pooled connections would keep the
  lock after being returned to the pool, so they are never used for it. The lock lives as long
  as that connection: a crashed or partitioned holder loses it without waiting for any expiry,
  so ``now`` and ``ttl_seconds`` are not needed.
* :class:`RowLeases` (SQLite, processes on one host): a lease row with an expiry, taken or
  renewed by one conditional upsert inside a serialised write transaction. The row names the
  holder's machine and process (:mod:`sync_worker.state.holder`): a holder on this machine whose
  process is gone (SIGKILL, OOM) loses the lease at once; any other crashed holder's lease is
  free once it expires (a short TTL, which a heartbeat renews while a cycle runs).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

import structlog
from sqlalchemy import Connection, Engine, or_, select
from sqlalchemy.engine import URL

from sync_worker.state.connect import READ_ONLY
from sync_worker.state.holder import THIS_NODE, holder_gone
from sync_worker.state.page import insert_for
from sync_worker.state.schema import leases

if TYPE_CHECKING:  # the driver is the optional `postgres` extra: imported where PostgreSQL is used
    import psycopg
    from psycopg.rows import TupleRow

_CONNECT_TIMEOUT_S = 10


class Leases(Protocol):
    def try_lease(self, pair: str, owner: str, now: datetime, ttl_seconds: float) -> bool: ...

    def release(self, pair: str, owner: str) -> None: ...

    def holders(self, pairs: Sequence[str], now: datetime) -> dict[str, str]:
        """Who holds each held lease among ``pairs`` now, as owner strings (free ones absent)."""
        ...

    def close(self) -> None:
        """Release every lease this object holds."""
        ...


def lease_key(pair: str) -> int:
    """The pair's advisory lock key: stable across processes (unlike the salted ``hash()``)."""
    digest = hashlib.blake2b(f"sync-worker:pair:{pair}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


log = structlog.stdlib.get_logger("sync_worker.state.lease")


class RowLeases:
    """Lease rows with expiry. A lease is live while ``now < expires_at`` and, when its holder
    ran on this machine, while the holder's process exists."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._held: set[tuple[str, str]] = set()

    def try_lease(self, pair: str, owner: str, now: datetime, ttl_seconds: float) -> bool:
        with self._engine.begin() as conn:  # serialised (BEGIN IMMEDIATE): read, then decide
            dead = _dead_holder(conn, pair, owner, now)
            ins = insert_for(conn, leases).values(
                pair=pair,
                owner=owner,
                expires_at=now + timedelta(seconds=ttl_seconds),
                node=THIS_NODE,
                pid=os.getpid(),
            )
            free = or_(leases.c.owner == ins.excluded.owner, leases.c.expires_at <= now)
            if dead is not None:
                free = or_(free, leases.c.owner == dead)
            stmt = ins.on_conflict_do_update(
                index_elements=[leases.c.pair],
                set_={name: ins.excluded[name] for name in ("owner", "expires_at", "node", "pid")},
                where=free,
            ).returning(leases.c.owner)
            taken = conn.execute(stmt).first() is not None
        if taken and dead is not None:
            log.warning(
                "lease_taken_over",
                pair=pair,
                dead_holder=dead,
                detail="the process holding the pair is gone",
            )
        with self._lock:
            if taken:
                self._held.add((pair, owner))
            else:
                self._held.discard((pair, owner))
        return taken

    def release(self, pair: str, owner: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(leases.delete().where(leases.c.pair == pair, leases.c.owner == owner))
        with self._lock:
            self._held.discard((pair, owner))

    def holders(self, pairs: Sequence[str], now: datetime) -> dict[str, str]:
        query = select(leases.c.pair, leases.c.owner, leases.c.node, leases.c.pid).where(
            leases.c.pair.in_(pairs), leases.c.expires_at > now
        )
        with self._engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                rows = list(conn.execute(query))
        return {row.pair: row.owner for row in rows if not holder_gone(row.node, row.pid)}

    def close(self) -> None:
        with self._lock:
            held = sorted(self._held)
        for pair, owner in held:
            self.release(pair, owner)


def _dead_holder(conn: Connection, pair: str, owner: str, now: datetime) -> str | None:
    """The owner of ``pair``'s live lease when it is another process of this machine that no
    longer exists; else None."""
    query = select(leases.c.owner, leases.c.node, leases.c.pid).where(
        leases.c.pair == pair, leases.c.expires_at > now, leases.c.owner != owner
    )
    row = conn.execute(query).first()
    if row is None or not holder_gone(row.node, row.pid):
        return None
    return str(row.owner)


class AdvisoryLeases:
    """PostgreSQL session advisory locks, one dedicated connection per held lease."""

    def __init__(self, url: URL) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._lock = threading.Lock()
        self._held: dict[str, tuple[str, psycopg.Connection[TupleRow]]] = {}

    def try_lease(
        self,
        pair: str,
        owner: str,
        now: datetime,  # noqa: ARG002 - the lock lives as long as its connection
        ttl_seconds: float,  # noqa: ARG002
    ) -> bool:
        with self._lock:
            held = self._held.get(pair)
            if held is not None:
                if held[0] != owner:
                    return False
                if _alive(held[1]):
                    return True
                self._drop(pair)  # the connection died, and the lock with it: take it anew
            conn = self._try_lock(pair, owner)
            if conn is None:
                return False
            self._held[pair] = (owner, conn)
            return True

    def _try_lock(self, pair: str, owner: str) -> psycopg.Connection[TupleRow] | None:
        import psycopg

        conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=_CONNECT_TIMEOUT_S,
            # How :meth:`holder` (any process) names the holder: PostgreSQL shows it to all.
            application_name=(_APP_PREFIX + owner)[:_APP_NAME_MAX],
        )
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lease_key(pair),)).fetchone()
        except BaseException:
            conn.close()
            raise
        if row is not None and row[0] is True:
            return conn
        conn.close()
        return None

    def release(self, pair: str, owner: str) -> None:
        with self._lock:
            held = self._held.get(pair)
            if held is not None and held[0] == owner:
                self._drop(pair)

    def _drop(self, pair: str) -> None:
        import psycopg

        _owner, conn = self._held.pop(pair)
        try:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lease_key(pair),))
        except psycopg.Error:
            pass  # a broken connection holds no lock any more
        finally:
            conn.close()

    def holders(
        self,
        pairs: Sequence[str],
        now: datetime,  # noqa: ARG002 - a lock is held or not; it has no expiry
    ) -> dict[str, str]:
        if not pairs:
            return {}
        keys: dict[tuple[int, int], str] = {}
        for pair in pairs:
            high, low = divmod(lease_key(pair) & 0xFFFF_FFFF_FFFF_FFFF, 1 << 32)
            keys[high, low] = pair
        highs, lows = zip(*keys, strict=True)
        import psycopg

        with psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
        ) as conn:
            rows = conn.execute(_HOLDERS_SQL, (list(highs), list(lows))).fetchall()
        found: dict[str, str] = {}
        for high, low, name, pid in rows:
            held = keys.get((int(high), int(low)))
            if held is None:
                continue
            if isinstance(name, str) and name.startswith(_APP_PREFIX):
                found[held] = name.removeprefix(_APP_PREFIX)
            else:
                found[held] = f"PostgreSQL backend {pid}"
        return found

    def close(self) -> None:
        with self._lock:
            for pair in list(self._held):
                self._drop(pair)


_APP_PREFIX = "sync-worker "
_APP_NAME_MAX = 63  # PostgreSQL's NAMEDATALEN - 1
# A bigint advisory key shows in pg_locks as classid (high 32 bits), objid (low), objsubid 1.
_HOLDERS_SQL = """
SELECT l.classid::bigint, l.objid::bigint, a.application_name, l.pid
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
JOIN unnest(%s::bigint[], %s::bigint[]) AS k(high, low)
  ON l.classid = k.high::oid AND l.objid = k.low::oid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def _alive(conn: psycopg.Connection[TupleRow]) -> bool:
    import psycopg

    if conn.closed:
        return False
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True
