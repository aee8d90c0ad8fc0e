"""Tables of the SQL state store (SQLAlchemy Core); their versioned migrations are in
:mod:`sync_worker.state.migrations`.

Every datetime column is :class:`UtcMicros`: aware UTC in Python, a BIGINT of epoch
microseconds in the database. Integers compare and sort the same on SQLite and PostgreSQL,
round-trip without loss, and never come back naive (SQLite's ``DateTime`` does).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class UtcMicros(TypeDecorator[datetime]):
    """Aware datetime <-> epoch microseconds. Naive datetimes are refused, never guessed."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:  # noqa: ARG002
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the state store takes aware UTC only")
        return (value - _EPOCH) // _MICROSECOND

    def process_result_value(self, value: int | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        return None if value is None else _EPOCH + value * _MICROSECOND


# SQLite only auto-increments an "INTEGER PRIMARY KEY"; PostgreSQL gets a 64-bit identity.
_Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

# The predicate of the "one open row" partial unique indexes. It is a literal, not a bound
# parameter: PostgreSQL cannot match ON CONFLICT ... WHERE status = $1 to a partial index once
# psycopg prepares the statement server-side.
OPEN_ONLY = text("status = 'open'")


schema_version = Table(
    "sw_schema_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    CheckConstraint("id = 1", name="sw_schema_version_one_row"),
)

cursors = Table(
    "sw_cursors",
    metadata,
    Column("pair", String, primary_key=True),
    Column("side", String(16), primary_key=True),
    Column("cursor", UtcMicros, nullable=False),
    Column("updated_at", UtcMicros, nullable=False),
)

links = Table(
    "sw_links",
    metadata,
    Column("pair", String, primary_key=True),
    Column("partner_id", String, primary_key=True),
    Column("rep_id", String, nullable=False),
    Column("status", String(16), nullable=False),
    Column("base_json", Text),
    Column("base_at", UtcMicros),
    Column("partner_written_at", UtcMicros),
    Column("rep_written_at", UtcMicros),
    Column("partner_seen", Text),
    Column("rep_seen", Text),
    Column("origin", String(16)),  # version 3: which side the shared deal was created on
    Column("out_of_scope", Text),  # version 3: why the pair is not syncing now
    Column("created_at", UtcMicros, nullable=False),
    Column("updated_at", UtcMicros, nullable=False),
    UniqueConstraint("pair", "rep_id", name="sw_links_rep_uq"),
)

pending = Table(
    "sw_pending_creations",
    metadata,
    Column("pair", String, primary_key=True),
    Column("origin_side", String(16), primary_key=True),
    Column("origin_id", String, primary_key=True),
    Column("created_at", UtcMicros, nullable=False),
)

conflicts = Table(
    "sw_conflicts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("pair", String, nullable=False),
    Column("partner_id", String, nullable=False),
    Column("rep_id", String, nullable=False),
    Column("field", String, nullable=False),
    Column("partner_value", Text),
    Column("rep_value", Text),
    Column("base_value", Text),
    Column("detected_at", UtcMicros, nullable=False),
    Column("status", String(16), nullable=False),
    Column("resolution", String(32)),
    Column("resolved_at", UtcMicros),
    CheckConstraint("status IN ('open', 'resolved')", name="sw_conflicts_status"),
)
Index(
    "sw_conflicts_open_uq",
    conflicts.c.pair,
    conflicts.c.partner_id,
    conflicts.c.field,
    unique=True,
    sqlite_where=OPEN_ONLY,
    postgresql_where=OPEN_ONLY,
)

dead_letters = Table(
    "sw_dead_letters",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("pair", String, nullable=False),
    Column("side", String(16), nullable=False),
    Column("record_id", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_at", UtcMicros, nullable=False),
    Column("last_at", UtcMicros, nullable=False),
    Column("next_attempt_at", UtcMicros),
    Column("status", String(16), nullable=False),
    CheckConstraint("status IN ('open', 'resolved')", name="sw_dead_letters_status"),
)
Index(
    "sw_dead_letters_open_uq",
    dead_letters.c.pair,
    dead_letters.c.side,
    dead_letters.c.record_id,
    unique=True,
    sqlite_where=OPEN_ONLY,
    postgresql_where=OPEN_ONLY,
)
Index(
    "sw_dead_letters_due",
    dead_letters.c.pair,
    dead_letters.c.status,
    dead_letters.c.next_attempt_at,
)

changes = Table(
    "sw_changes",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("pair", String, nullable=False),
    Column("partner_id", String, nullable=False),
    Column("rep_id", String, nullable=False),
    Column("side_written", String(16), nullable=False),
    Column("field", String, nullable=False),
    Column("old_value", Text),
    Column("new_value", Text),
    Column("rule", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UtcMicros, nullable=False),
    Column("run_id", String, nullable=False),
)
Index("sw_changes_by_deal", changes.c.pair, changes.c.partner_id, changes.c.at)
Index("sw_changes_by_time", changes.c.at)  # version 2: retention deletes by age

runs = Table(
    "sw_runs",
    metadata,
    Column("run_id", String, primary_key=True),
    Column("pair", String, nullable=False),
    Column("mode", String(32), nullable=False),
    Column("started_at", UtcMicros, nullable=False),
    Column("ended_at", UtcMicros),
    Column("outcome", String(32)),
    Column("counts", Text, nullable=False),
    Column("error", Text),
)
Index("sw_runs_by_pair", runs.c.pair, runs.c.started_at)

leases = Table(
    "sw_leases",
    metadata,
    Column("pair", String, primary_key=True),
    Column("owner", String, nullable=False),
    Column("expires_at", UtcMicros, nullable=False),
    # version 3: the holder's machine (host, boot, pid namespace) and process id, so that a
    # process on the same machine can tell a dead holder's lease at once
    Column("node", String),
    Column("pid", Integer),
)

# version 6: what the webhook route has seen lately, per endpoint: each request's signature (a
# replay is refused) and each event id (a redelivered event is not queued twice), until expiry
webhook_seen = Table(
    "sw_webhook_seen",
    metadata,
    Column("endpoint", String, primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String, primary_key=True),
    Column("expires_at", UtcMicros, nullable=False),
    CheckConstraint("kind IN ('signature', 'event')", name="sw_webhook_seen_kind"),
)
Index("sw_webhook_seen_expiry", webhook_seen.c.expires_at)


inbox = Table(
    "sw_inbox",
    metadata,
    # version 4: deals known to have changed, per pair (or per rep endpoint, not yet routed)
    Column("key", String, primary_key=True),
    Column("side", String(16), primary_key=True),
    Column("record_id", String, primary_key=True),
    Column("source", String(16), nullable=False),
    Column("first_queued_at", UtcMicros, nullable=False),
    Column("queued_at", UtcMicros, nullable=False),
    Column("payload", Text),  # the search document discovery found, as JSON; NULL for an id
)
Index("sw_inbox_by_age", inbox.c.key, inbox.c.side, inbox.c.first_queued_at)


replicas = Table(
    "sw_replicas",
    metadata,
    # version 5: the daemons sharing this store, so that they can split the pairs between them
    Column("owner", String, primary_key=True),
    Column("node", String),
    Column("pid", Integer),
    Column("started_at", UtcMicros, nullable=False),
    Column("seen_at", UtcMicros, nullable=False),
)

# version 7: each credential's rate budget, shared by every process using the store
# (sync_worker.state.budget): the corrections HubSpot's headers made, and the grants of the
# current windows.
rate_budgets = Table(
    "sw_rate_budgets",
    metadata,
    Column("credential", String, primary_key=True),  # base URL + token fingerprint
    Column("general_limit", Integer),  # from X-HubSpot-RateLimit-Max; NULL: the tier's
    Column("blocked_until", UtcMicros),  # X-HubSpot-RateLimit-Remaining was 0
    Column("daily_remaining", Integer),
    Column("daily_resets_at", UtcMicros),  # set while the daily budget is spent
    Column("updated_at", UtcMicros, nullable=False),
)

rate_grants = Table(
    "sw_rate_grants",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("credential", String, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", UtcMicros, nullable=False),
)
Index("sw_rate_grants_window", rate_grants.c.credential, rate_grants.c.kind, rate_grants.c.at)
