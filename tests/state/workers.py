"""Code run in child processes by the concurrency and lease tests (importable for ``spawn``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from threading import Barrier

from sqlalchemy import Column, Integer, MetaData, Table, select

from sync_worker.kernel.model import Side
from sync_worker.state import DeadLetter, PageCommit, open_store
from sync_worker.state.connect import make_engine, parse_url

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

counter_metadata = MetaData()
counter = Table(
    "test_counter", counter_metadata, Column("id", Integer, primary_key=True), Column("n", Integer)
)


def commit_increments(url: str, start: Barrier, pair: str, worker: int, times: int) -> None:
    """Commit ``times`` pages, each bumping one shared dead letter and advancing the cursor."""
    store = open_store(url)
    try:
        start.wait(timeout=60)
        for i in range(times):
            cursor = T0 + timedelta(seconds=worker * 1000 + i)
            page = PageCommit(
                dead_letters=[DeadLetter(Side.REP, "shared", f"worker {worker}")],
                cursor_side=Side.PARTNER,
                cursor=cursor,
            )
            store.commit_page(pair, page)
    finally:
        store.close()


def open_fresh(url: str, start: Barrier) -> None:
    """Open (and so create the schema of) a store at the same moment as the others."""
    start.wait(timeout=60)
    open_store(url).close()


def read_modify_write(url: str, start: Barrier, times: int) -> None:
    """Increment a counter by reading it and writing it back inside one transaction."""
    engine = make_engine(parse_url(url))
    try:
        start.wait(timeout=60)
        for _ in range(times):
            with engine.begin() as conn:
                n = conn.execute(select(counter.c.n).where(counter.c.id == 1)).scalar_one()
                conn.execute(counter.update().where(counter.c.id == 1).values(n=n + 1))
    finally:
        engine.dispose()


def hold_lease(url: str, pair: str, owner: str, ttl_seconds: float) -> None:
    """Take the lease, say so on stdout, then hold it until killed or stdin closes."""
    store = open_store(url)
    try:
        taken = store.try_lease(pair, owner, T0, ttl_seconds)
        sys.stdout.write(f"{'held' if taken else 'refused'}\n")
        sys.stdout.flush()
        sys.stdin.read()
    finally:
        store.close()


if __name__ == "__main__":
    hold_lease(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
