"""Fixtures of the state-store contract suite: every test runs on a real SQLite file and, when
``SYNC_WORKER_TEST_PG_URL`` is set, on a real PostgreSQL server in a schema of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from sync_worker.kernel.clock import FakeClock
from sync_worker.state import SqlStateStore, open_store

PG_ENV = "SYNC_WORKER_TEST_PG_URL"
PG_SKIP = f"{PG_ENV} not set: PostgreSQL contract tests skipped"

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def pg_conninfo(url: str) -> str:
    """A libpq URI for a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql" and not os.environ.get(PG_ENV):
        pytest.skip(PG_SKIP)
    return name


@contextmanager
def fresh_pg_schema(base: str, prefix: str = "sw_test") -> Iterator[str]:
    """A URL to ``base``'s database whose search path is a new, empty schema, dropped after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_conninfo(base), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(pg_conninfo(base), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty store; for PostgreSQL a fresh schema, dropped afterwards."""
    if backend == "sqlite":
        # A nested path: open_store must create the parent directories.
        yield f"sqlite:///{tmp_path / 'var' / 'state.db'}"
        return
    with fresh_pg_schema(os.environ[PG_ENV]) as url:
        yield url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def open_more(store_url: str, clock: FakeClock) -> Iterator[Callable[[], SqlStateStore]]:
    """Opens more store instances on the same database (as another replica would)."""
    opened: list[SqlStateStore] = []

    def _open() -> SqlStateStore:
        opened.append(open_store(store_url, clock=clock))
        return opened[-1]

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(open_more: Callable[[], SqlStateStore]) -> SqlStateStore:
    return open_more()


@pytest.fixture
def pair() -> str:
    """A pair name unique to the test: advisory locks are server-wide, schemas are not."""
    return f"pair-{uuid.uuid4().hex[:12]}"
