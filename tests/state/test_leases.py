"""Leases: one owner per pair at a time, across store instances and processes."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from sync_worker.kernel.clock import FakeClock
from sync_worker.state import SqlStateStore, lease_key
from sync_worker.state.holder import holder_gone, process_gone
from tests.state.conftest import T0

REPO = Path(__file__).resolve().parents[2]
TTL = 30.0


@contextmanager
def lease_holder_process(url: str, pair: str, owner: str) -> Iterator[subprocess.Popen[str]]:
    """A child process that has taken ``pair``'s lease (asserted) and holds it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.state.workers", url, pair, owner, str(TTL)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def test_lease_key_is_a_stable_signed_64_bit_blake2b() -> None:
    digest = hashlib.blake2b(b"sync-worker:pair:acme", digest_size=8).digest()
    assert lease_key("acme") == int.from_bytes(digest, "big", signed=True)
    assert -(2**63) <= lease_key("acme") < 2**63
    assert lease_key("acme") != lease_key("acme2")


def test_second_owner_is_refused_until_release(store: SqlStateStore, pair: str) -> None:
    assert store.try_lease(pair, "a", T0, TTL)
    assert not store.try_lease(pair, "b", T0, TTL)
    assert store.try_lease(pair, "a", T0 + timedelta(seconds=1), TTL)  # renewal
    assert store.try_lease(f"{pair}-2", "b", T0, TTL)  # other pairs are independent
    store.release_lease(pair, "b")  # not the holder: no effect
    assert not store.try_lease(pair, "b", T0, TTL)
    store.release_lease(pair, "a")
    assert store.try_lease(pair, "b", T0, TTL)
    assert not store.try_lease(pair, "a", T0, TTL)


def test_lease_is_exclusive_across_store_instances(
    store: SqlStateStore, open_more: Callable[[], SqlStateStore], pair: str
) -> None:
    replica = open_more()
    assert store.try_lease(pair, "a", T0, TTL)
    assert not replica.try_lease(pair, "b", T0, TTL)
    store.release_lease(pair, "a")
    assert replica.try_lease(pair, "b", T0, TTL)
    assert not store.try_lease(pair, "a", T0, TTL)


def test_close_releases_held_leases(
    store: SqlStateStore, open_more: Callable[[], SqlStateStore], pair: str
) -> None:
    holder = open_more()
    assert holder.try_lease(pair, "a", T0, TTL)
    holder.close()
    assert store.try_lease(pair, "b", T0, TTL)


def test_sqlite_lease_expires_and_renewal_extends_it(
    backend: str, store: SqlStateStore, pair: str
) -> None:
    if backend != "sqlite":
        pytest.skip("advisory locks do not expire: they end with their connection")
    assert store.try_lease(pair, "a", T0, TTL)
    assert store.try_lease(pair, "a", T0 + timedelta(seconds=20), TTL)  # now until T0+50s
    assert not store.try_lease(pair, "b", T0 + timedelta(seconds=49), TTL)
    assert store.try_lease(pair, "b", T0 + timedelta(seconds=50), TTL)
    assert not store.try_lease(pair, "a", T0 + timedelta(seconds=51), TTL)


def test_lease_held_by_another_process(
    backend: str, store: SqlStateStore, store_url: str, pair: str
) -> None:
    with lease_holder_process(store_url, pair, "child") as child:
        assert not store.try_lease(pair, "parent", T0, TTL)
        assert child.stdin is not None
        child.stdin.close()  # the child releases its lease and exits cleanly
        assert child.wait(timeout=30) == 0
    assert store.try_lease(pair, "parent", T0, TTL)


def test_crashed_holder_frees_the_lease(
    backend: str, store: SqlStateStore, store_url: str, pair: str
) -> None:
    with lease_holder_process(store_url, pair, "child") as child:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    if backend == "sqlite":
        # The row outlives the crash, but it names a process of this machine that is gone:
        # the lease is free at once, not after its expiry, and nobody is shown holding it.
        assert store.status([pair])[0].lease_holder is None
        assert store.try_lease(pair, "parent", T0, TTL)
    else:
        # The server drops the dead session, and its lock with it (allow it a moment).
        assert _eventually(lambda: store.try_lease(pair, "parent", T0, TTL))


def test_pg_lost_lease_connection_is_taken_anew(
    backend: str, store: SqlStateStore, open_more: Callable[[], SqlStateStore], pair: str
) -> None:
    if backend != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    assert store.try_lease(pair, "a", T0, TTL)
    with store.engine.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND objsubid = 1"
            " AND classid = ((%(k)s::bigint >> 32) & 4294967295)::oid"
            " AND objid = (%(k)s::bigint & 4294967295)::oid",
            {"k": lease_key(pair)},
        )
    replica = open_more()
    assert _eventually(lambda: replica.try_lease(pair, "b", T0, TTL))
    assert not store.try_lease(pair, "a", T0, TTL)  # its renewal sees the lock is gone
    replica.release_lease(pair, "b")
    assert store.try_lease(pair, "a", T0, TTL)


def _eventually(check: Callable[[], bool], attempts: int = 50) -> bool:
    for _ in range(attempts):
        if check():
            return True
        time.sleep(0.1)
    return False


def test_status_names_the_process_holding_a_pair(
    store: SqlStateStore, open_more: Callable[[], SqlStateStore], pair: str
) -> None:
    """An operator asking ``status`` from anywhere sees which replica works on the pair."""
    owner = "worker-7.example:4242:ab12cd34"
    assert store.status([pair])[0].lease_holder is None
    assert store.try_lease(pair, owner, T0, TTL)
    observer = open_more()  # another process's view
    assert observer.status([pair])[0].lease_holder == owner
    store.release_lease(pair, owner)
    assert observer.status([pair])[0].lease_holder is None


def test_status_names_a_holder_in_another_process(
    store: SqlStateStore, store_url: str, pair: str
) -> None:
    with lease_holder_process(store_url, pair, "child-host:99:feedbeef") as child:
        assert store.status([pair])[0].lease_holder == "child-host:99:feedbeef"
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(timeout=30) == 0
    assert store.status([pair])[0].lease_holder is None


def test_an_expired_sqlite_lease_has_no_holder(
    backend: str, store: SqlStateStore, clock: FakeClock, pair: str
) -> None:
    if backend != "sqlite":
        pytest.skip("advisory locks do not expire: they end with their connection")
    assert store.try_lease(pair, "crashed:1:x", T0, TTL)
    clock.advance(TTL - 1)
    assert store.status([pair])[0].lease_holder == "crashed:1:x"
    clock.advance(1)
    assert store.status([pair])[0].lease_holder is None


def test_status_of_many_pairs_names_each_holder_in_one_query(
    store: SqlStateStore, open_more: Callable[[], SqlStateStore], pair: str
) -> None:
    names = [f"{pair}-{i}" for i in range(5)]
    holder = open_more()
    for i in (1, 3):
        assert holder.try_lease(names[i], f"host:{i}:x", T0, TTL)
    rows = store.status(names)
    assert [row.pair for row in rows] == names
    assert {row.pair: row.lease_holder for row in rows} == {
        names[0]: None,
        names[1]: "host:1:x",
        names[2]: None,
        names[3]: "host:3:x",
        names[4]: None,
    }


def test_a_holder_on_another_machine_keeps_its_lease_until_it_expires(
    backend: str, store: SqlStateStore, pair: str
) -> None:
    """Its process cannot be checked from here: only the short TTL frees its lease."""
    if backend != "sqlite":
        pytest.skip("advisory locks end with their connection")
    assert store.try_lease(pair, "elsewhere:1:x", T0, TTL)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE sw_leases SET node = 'other-host/boot/pid:[1]', pid = 999999"))
    assert not store.try_lease(pair, "here", T0 + timedelta(seconds=TTL - 1), TTL)
    assert store.try_lease(pair, "here", T0 + timedelta(seconds=TTL), TTL)


def test_a_gone_process_of_this_machine_is_told_from_a_live_one() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert process_gone(child.pid)
    assert not process_gone(os.getpid())
    assert not holder_gone("other-host/boot/pid:[1]", child.pid)  # not checkable from here
