"""Several processes writing one store at once lose no update (both backends)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from sync_worker.kernel.model import Side
from sync_worker.state import PageCommit, SqlStateStore, open_store
from tests.state import workers

PROCESSES = 4
TIMES = 100


def run_processes(target: Callable[..., None], args: list[tuple[object, ...]]) -> None:
    """Run ``target(url, barrier, *rest)`` in one process per args tuple, released together."""
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe in a threaded test process
    start = ctx.Barrier(len(args))
    procs = [ctx.Process(target=target, args=(a[0], start, *a[1:])) for a in args]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    for p in procs:
        p.close()


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))  # a race: one round passed ~4 times in 5 before
def test_processes_creating_the_schema_at_once_all_succeed(store_url: str, attempt: int) -> None:
    del attempt
    run_processes(workers.open_fresh, [(store_url,) for _ in range(PROCESSES + 2)])
    store = open_store(store_url)
    try:
        assert store.count_links("acme") == 0
    finally:
        store.close()


@pytest.mark.slow
def test_processes_committing_at_once_lose_no_update(store: SqlStateStore, store_url: str) -> None:
    run_processes(
        workers.commit_increments,
        [(store_url, "acme", w, TIMES) for w in range(PROCESSES)],
    )
    [(_, letter)] = store.dead_letters("acme")
    assert letter.attempts == PROCESSES * TIMES
    last = workers.T0 + timedelta(seconds=(PROCESSES - 1) * 1000 + TIMES - 1)
    assert store.get_cursor("acme", Side.PARTNER) == last


@pytest.mark.slow
def test_sqlite_read_modify_write_is_serialised(
    backend: str, store: SqlStateStore, store_url: str
) -> None:
    """The BEGIN IMMEDIATE recipe: pysqlite's default loses most of these increments."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL's READ COMMITTED needs SELECT ... FOR UPDATE for this")
    workers.counter_metadata.create_all(store.engine)
    with store.engine.begin() as conn:
        conn.execute(insert(workers.counter).values(id=1, n=0))
    run_processes(workers.read_modify_write, [(store_url, TIMES) for _ in range(PROCESSES)])
    with store.engine.begin() as conn:
        n = conn.execute(workers.counter.select()).one().n
    assert n == PROCESSES * TIMES


def test_sqlite_reads_do_not_wait_for_a_writer(
    backend: str, store: SqlStateStore, store_url: str
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite locking")
    store.commit_page("acme", PageCommit(cursor_side=Side.REP, cursor=workers.T0))
    path = make_url(store_url).database
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a commit
        started = time.monotonic()
        assert store.get_cursor("acme", Side.REP) == workers.T0
        assert store.status(["acme"])[0].rep_cursor == workers.T0
        assert time.monotonic() - started < 5  # far below the 30 s busy timeout
        writer.execute("ROLLBACK")
    finally:
        writer.close()
