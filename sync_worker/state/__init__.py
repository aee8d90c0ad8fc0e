"""The state store: :func:`open_store` picks SQLite or PostgreSQL from a URL.

``sqlite:///path/to/state.db`` (parent directories are created) or
``postgresql+psycopg://user@host/db`` (``postgresql://`` means the same).
"""

from __future__ import annotations

from sync_worker.kernel.clock import Clock, SystemClock
from sync_worker.kernel.errors import LinkRepointed
from sync_worker.state.base import (
    ChangeEntry,
    ConflictEntry,
    CursorMark,
    DeadLetter,
    InboxEntry,
    LinkState,
    PageCommit,
    PairStatus,
    PruneCounts,
    RunRecord,
    StateStore,
    Taken,
    endpoint_key,
)
from sync_worker.state.connect import make_engine, parse_url
from sync_worker.state.lease import AdvisoryLeases, Leases, RowLeases, lease_key
from sync_worker.state.migrations import SCHEMA_VERSION, ensure_schema
from sync_worker.state.sql import SqlStateStore

__all__ = [
    "SCHEMA_VERSION",
    "ChangeEntry",
    "ConflictEntry",
    "CursorMark",
    "DeadLetter",
    "InboxEntry",
    "LinkRepointed",
    "LinkState",
    "PageCommit",
    "PairStatus",
    "PruneCounts",
    "RunRecord",
    "SqlStateStore",
    "StateStore",
    "Taken",
    "endpoint_key",
    "lease_key",
    "open_store",
]


def open_store(url: str, *, clock: Clock | None = None) -> SqlStateStore:
    """Open (creating or upgrading its schema) the store at ``url``.

    Raises ConfigError for an unsupported URL or a database from a newer worker version.
    ``clock`` stamps the store's own bookkeeping times (default: the system clock).
    """
    parsed = parse_url(url)
    engine = make_engine(parsed)
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    leases: Leases = (
        AdvisoryLeases(parsed) if parsed.get_backend_name() == "postgresql" else RowLeases(engine)
    )
    return SqlStateStore(engine, leases, clock or SystemClock())


# The SQL store must keep satisfying the port; mypy checks this assignment.
_CONFORMS: type[StateStore] = SqlStateStore
