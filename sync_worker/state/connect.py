"""Engines for the state store: URL forms, SQLite pragmas and serialised SQLite writers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential

from sync_worker.kernel.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option marking a transaction that only reads (SQLite then BEGINs DEFERRED).
READ_ONLY = "sync_worker_read_only"
# Per-connection settings; journal_mode=WAL is persistent in the file and set apart (see below).
_SQLITE_PRAGMAS = ("synchronous=NORMAL", "foreign_keys=ON")


def parse_url(url: str) -> URL:
    """Validate a store URL; ``postgresql://`` is rewritten to the psycopg 3 driver.

    Raises ConfigError for anything but a SQLite file or PostgreSQL URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"state store URL is not a database URL: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        _require_psycopg()
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigError("state store: SQLite needs a file path, e.g. sqlite:///state.db")
        return parsed
    raise ConfigError(
        f"state store URL scheme {parsed.drivername!r} is not supported; "
        "use sqlite:///path/to/state.db or postgresql+psycopg://..."
    )


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401 - only whether it is installed
    except ImportError:
        raise ConfigError(
            "state store: PostgreSQL needs its driver; install the postgres extra: "
            "pip install 'shared-deal-sync[postgres]'"
        ) from None


def make_engine(url: URL) -> Engine:
    """An engine for ``url`` (from :func:`parse_url`), configured for the store's rules."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    # pre_ping: a replica outlives database restarts without failing its next cycle.
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite would otherwise BEGIN lazily before the first DML, letting a transaction's reads
    # run outside its write lock (lost updates); we issue BEGIN IMMEDIATE ourselves instead.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cur)
        for pragma in _SQLITE_PRAGMAS:
            cur.execute(f"PRAGMA {pragma}")
    finally:
        cur.close()


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


@retry(
    retry=retry_if_exception(_is_locked),
    stop=stop_after_delay(SQLITE_BUSY_TIMEOUT_MS / 1000),
    wait=wait_random_exponential(multiplier=0.005, max=0.25),
    reraise=True,
)
def _use_wal(cur: Any) -> None:
    """Put the file in WAL mode, once per file (the mode is stored in the file).

    While several processes open a fresh file at once, the switch can fail with "database is
    locked" at once, without waiting out the busy timeout: SQLite refuses to wait when this
    connection holds a shared lock and another holds the reserved one (waiting could deadlock).
    Trying again after the other's transaction ends is SQLite's documented remedy.
    """
    if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        cur.execute("PRAGMA journal_mode=WAL")


def _sqlite_on_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock up front, so writers queue instead of interleaving.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
