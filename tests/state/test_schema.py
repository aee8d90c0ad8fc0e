"""Schema creation, step-by-step upgrades that keep state, refusal of newer databases, URLs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError

from sync_worker.kernel.errors import ConfigError
from sync_worker.kernel.model import Side
from sync_worker.state import SCHEMA_VERSION, LinkState, PageCommit, open_store
from sync_worker.state.connect import (
    SQLITE_BUSY_TIMEOUT_MS,
    _sqlite_on_connect,
    make_engine,
    parse_url,
)
from sync_worker.state.migrations import MIGRATIONS, Migration, ensure_schema, read_version
from sync_worker.state.schema import (
    links,
    metadata,
    schema_version,
)
from tests.state.conftest import T0


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    eng = make_engine(parse_url(store_url))
    yield eng
    eng.dispose()


def version_of(engine: Engine) -> int:
    with engine.begin() as conn:
        return read_version(conn)


def add_note_column(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE sw_links ADD COLUMN note TEXT DEFAULT 'v2'"))


def columns(engine: Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_a_new_database_gets_every_table_at_the_current_version(
    store_url: str, engine: Engine
) -> None:
    open_store(store_url).close()
    assert version_of(engine) == SCHEMA_VERSION
    with engine.connect() as conn:
        assert set(metadata.tables) <= set(inspect(conn).get_table_names())
    open_store(store_url).close()  # reopening is a no-op
    assert version_of(engine) == SCHEMA_VERSION


def test_a_version_0_database_is_upgraded(store_url: str, engine: Engine) -> None:
    with engine.begin() as conn:
        schema_version.create(conn)
        conn.execute(schema_version.insert().values(id=1, version=0))
    open_store(store_url).close()
    assert version_of(engine) == SCHEMA_VERSION
    with engine.connect() as conn:
        assert inspect(conn).has_table(links.name)


def test_upgrade_runs_the_missing_steps_and_keeps_state(store_url: str, engine: Engine) -> None:
    store = open_store(store_url)
    store.commit_page(
        "acme", PageCommit(links=[LinkState("1", "r1")], cursor_side=Side.REP, cursor=T0)
    )
    store.close()

    following = SCHEMA_VERSION + 1
    steps = [*MIGRATIONS, Migration(following, "link notes", add_note_column)]
    assert ensure_schema(engine, steps) == following
    assert version_of(engine) == following
    assert "note" in columns(engine, links.name)
    with engine.begin() as conn:
        row = conn.execute(select(links.c.rep_id, text("note")).select_from(links)).one()
    assert tuple(row) == ("r1", "v2")


def test_a_failing_step_leaves_the_database_at_its_old_version(engine: Engine) -> None:
    ensure_schema(engine)

    def broken(conn: Connection) -> None:
        raise RuntimeError("the last step is broken")

    steps = [
        *MIGRATIONS,
        Migration(SCHEMA_VERSION + 1, "notes", add_note_column),
        Migration(SCHEMA_VERSION + 2, "broken", broken),
    ]
    with pytest.raises(RuntimeError, match="last step"):
        ensure_schema(engine, steps)
    assert version_of(engine) == SCHEMA_VERSION
    assert "note" not in columns(engine, links.name)  # the step before was rolled back too


def test_a_database_from_a_newer_worker_is_refused(store_url: str, engine: Engine) -> None:
    newer = SCHEMA_VERSION + 1
    ensure_schema(engine, [*MIGRATIONS, Migration(newer, "future", add_note_column)])
    with pytest.raises(ConfigError) as err:
        open_store(store_url)
    assert f"version {newer}" in str(err.value)
    assert f"version {SCHEMA_VERSION}" in str(err.value)
    assert version_of(engine) == newer


def test_naive_datetimes_are_refused_and_nothing_lands(store_url: str) -> None:
    store = open_store(store_url)
    try:
        naive = T0.replace(tzinfo=None)
        page = PageCommit(links=[LinkState("1", "r1")], cursor_side=Side.REP, cursor=naive)
        with pytest.raises(StatementError, match="naive datetime"):
            store.commit_page("acme", page)
        assert store.count_links("acme") == 0
    finally:
        store.close()


def test_sqlite_connections_use_wal_and_wait_for_locks(backend: str, engine: Engine) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        pragmas = {
            p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
            for p in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }


class _FailingWalSwitch:
    """A DB-API connection whose next ``failures`` switches to WAL raise ``error``."""

    real: sqlite3.Connection
    failures: int
    error: str

    def __init__(self, real: sqlite3.Connection, failures: int, error: str) -> None:
        self.__dict__.update(real=real, failures=failures, error=error)

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self.real, name, value)  # isolation_level and the like reach the real one

    def cursor(self) -> _FailingWalCursor:
        return _FailingWalCursor(self)


class _FailingWalCursor:
    def __init__(self, conn: _FailingWalSwitch) -> None:
        self.conn = conn
        self.real = conn.real.cursor()

    def execute(self, sql: str) -> sqlite3.Cursor:
        if sql == "PRAGMA journal_mode=WAL" and self.conn.failures:
            self.conn.__dict__["failures"] -= 1
            raise sqlite3.OperationalError(self.conn.error)
        return self.real.execute(sql)

    def close(self) -> None:
        self.real.close()


def test_a_fresh_sqlite_file_reaches_wal_through_an_immediate_lock_error(tmp_path: Path) -> None:
    """SQLite answers "database is locked" at once, without its busy timeout, when processes
    switch a fresh file to WAL together; the connect hook tries again instead of failing."""
    real = sqlite3.connect(tmp_path / "state.db")
    try:
        _sqlite_on_connect(_FailingWalSwitch(real, 3, "database is locked"), None)
        assert real.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert real.execute("PRAGMA busy_timeout").fetchone() == (SQLITE_BUSY_TIMEOUT_MS,)
    finally:
        real.close()


def test_other_sqlite_errors_at_connect_are_raised_without_retrying(tmp_path: Path) -> None:
    real = sqlite3.connect(tmp_path / "state.db")
    conn = _FailingWalSwitch(real, 5, "disk I/O error")
    try:
        with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
            _sqlite_on_connect(conn, None)
        assert conn.failures == 4  # tried once
    finally:
        real.close()


def test_plain_postgresql_urls_use_psycopg(backend: str, store_url: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL URL form")
    plain = make_url(store_url).set(drivername="postgresql")
    store = open_store(plain.render_as_string(hide_password=False))
    try:
        assert store.engine.dialect.driver == "psycopg"
        assert store.count_links("acme") == 0
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@db/state", "postgresql+psycopg"),
        ("postgres://u@db/state", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/state", "postgresql+psycopg"),
        ("sqlite:///var/state.db", "sqlite"),
    ],
)
def test_url_forms(url: str, driver: str) -> None:
    assert parse_url(url).drivername == driver


@pytest.mark.parametrize(
    "url", ["mysql://u@db/state", "sqlite://", "sqlite:///:memory:", "not a url"]
)
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError, match="state store"):
        parse_url(url)


def test_migration_versions_must_be_consecutive(engine: Engine) -> None:
    with pytest.raises(ValueError, match="without gaps"):
        ensure_schema(
            engine, [*MIGRATIONS, Migration(SCHEMA_VERSION + 2, "skips", add_note_column)]
        )
    with engine.connect() as conn:
        assert not inspect(conn).has_table(links.name)
