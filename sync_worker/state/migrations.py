"""The state schema's versions: each step that brings a database from one to the next.

The schema carries a version row. :func:`ensure_schema` creates a new database, upgrades an
older one step by step inside **one** transaction (all steps land or none), and refuses a
database written by newer code with a :class:`~sync_worker.kernel.errors.ConfigError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, inspect, select, text

from sync_worker.kernel.errors import ConfigError
from sync_worker.state.schema import (
    inbox,
    leases,
    links,
    metadata,
    rate_budgets,
    rate_grants,
    replicas,
    schema_version,
    webhook_seen,
)


@dataclass(frozen=True, slots=True)
class Migration:
    """One step: ``apply`` brings a database at ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    # Version 1 is the whole current metadata. When a version 2 changes a table, freeze the
    # version-1 DDL here so that an empty database still walks every step in order.
    metadata.create_all(conn)


def _v2_changes_by_time(conn: Connection) -> None:
    # Databases created at version 2 or later already have it (version 1 builds the current
    # metadata), hence IF NOT EXISTS; both engines support it.
    conn.execute(text("CREATE INDEX IF NOT EXISTS sw_changes_by_time ON sw_changes (at)"))


def _v3_origins_and_lease_holders(conn: Connection) -> None:
    # Version 1 builds the current metadata, so a database created at version 3 has the columns;
    # SQLite has no ADD COLUMN IF NOT EXISTS, hence the check.
    wanted = {
        links.name: (("origin", "VARCHAR(16)"), ("out_of_scope", "TEXT")),
        leases.name: (("node", "VARCHAR"), ("pid", "INTEGER")),
    }
    for table, columns in wanted.items():
        present = {column["name"] for column in inspect(conn).get_columns(table)}
        for name, kind in columns:
            if name not in present:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))


def _v4_inbox(conn: Connection) -> None:
    # Version 1 builds the current metadata, so a database created at version 4 has it.
    inbox.create(conn, checkfirst=True)
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS sw_inbox_by_age ON sw_inbox (key, side, first_queued_at)")
    )


def _v5_replicas(conn: Connection) -> None:
    replicas.create(conn, checkfirst=True)


def _v6_webhook_seen(conn: Connection) -> None:
    # A database created at version 6 or later has it already (version 1 builds the metadata).
    webhook_seen.create(conn, checkfirst=True)


def _v7_rate_budgets(conn: Connection) -> None:
    # Version 1 builds the current metadata, so a new database has them already.
    for table in (rate_budgets, rate_grants):
        table.create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_initial),
    Migration(2, "index the change log by time, for retention", _v2_changes_by_time),
    Migration(
        3,
        "links record their origin and why they are out of scope; leases their holder's process",
        _v3_origins_and_lease_holders,
    ),
    Migration(4, "an inbox of changed deals per pair and per rep endpoint", _v4_inbox),
    Migration(5, "the daemons sharing the store, to split the pairs", _v5_replicas),
    Migration(6, "the webhook route remembers recent signatures and event ids", _v6_webhook_seen),
    Migration(7, "rate budgets shared by every process using a credential", _v7_rate_budgets),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

_MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.blake2b(b"sync-worker:schema-migration", digest_size=8).digest(), "big", signed=True
)


def read_version(conn: Connection) -> int:
    """The database's schema version; 0 for a database without the version table."""
    if not inspect(conn).has_table(schema_version.name):
        return 0
    found = conn.execute(select(schema_version.c.version)).scalar_one_or_none()
    return int(found or 0)


def _write_version(conn: Connection, version: int) -> None:
    updated = conn.execute(schema_version.update().values(version=version)).rowcount
    if not updated:
        conn.execute(schema_version.insert().values(id=1, version=version))


def ensure_schema(engine: Engine, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Create or upgrade the schema to the last of ``migrations``; return that version.

    Raises ConfigError when the database is newer than the code (nothing is changed then).
    Every step runs in the same transaction: a failing step leaves the old version intact.
    """
    versions = [step.version for step in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must run 1, 2, 3 ... without gaps; got {versions}")
    target = versions[-1]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two replicas starting at once must not both create the tables.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        current = read_version(conn)
        if current > target:
            raise ConfigError(
                f"the state database has schema version {current}, newer than version "
                f"{target} known to this worker; upgrade the worker (the database was not changed)"
            )
        for step in migrations:
            if step.version > current:
                step.apply(conn)
                _write_version(conn, step.version)
    return target
