"""Two ``sync-worker run`` processes on one PostgreSQL store and one rep CRM with eight
partners: they split the pairs evenly, never run one pair at the same time, discover the rep CRM
in one process only, and when one is killed the other takes every pair over.

Which process ran a cycle is read from its JSON log (``cycle_finished`` carries the run id);
when a run started and ended, from ``sw_runs``."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import select

from sync_worker.service.daemon import REPLICA_TTL_SECONDS
from sync_worker.state import SqlStateStore, open_store
from sync_worker.state.schema import runs
from tests.integration.programme import Programme, free_port, pair_name, running_programme
from tests.state.conftest import PG_ENV, PG_SKIP, fresh_pg_schema

pytestmark = [pytest.mark.pg, pytest.mark.slow]

PAIRS = 8
DEADLINE_SECONDS = 60.0
SETTLE_MARGIN = timedelta(seconds=2)
TAKEOVER_SECONDS = REPLICA_TTL_SECONDS + 20.0
"""The survivor runs every pair within the replica TTL, plus a pair interval and slack."""


@pytest.fixture
def pg_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    with fresh_pg_schema(base, prefix="sw_replicas") as url:
        yield url


@dataclass
class Replica:
    name: str
    process: subprocess.Popen[str]
    log: IO[str]

    def events(self) -> list[dict[str, Any]]:
        self.log.seek(0)
        lines = self.log.read().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def named(self, event: str, after: datetime | None = None) -> list[dict[str, Any]]:
        return [
            e for e in self.events() if e["event"] == event and (after is None or moment(e) > after)
        ]


def moment(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


@contextmanager
def replica(name: str, config: Path) -> Iterator[Replica]:
    log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed below
    environ = {**os.environ, "SYNC_WORKER_WORKER__METRICS_PORT": str(free_port())}
    process = subprocess.Popen(
        [sys.executable, "-m", "sync_worker", "run", "--config", str(config)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    try:
        yield Replica(name, process, log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=DEADLINE_SECONDS)
        log.close()


def wait_for(check: Callable[[], bool], what: str, seconds: float = DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@dataclass(frozen=True)
class Run:
    run_id: str
    pair: str
    started: datetime
    ended: datetime | None


def all_runs(store: SqlStateStore) -> list[Run]:
    with store._engine.connect() as conn:  # the run log has no query for every run
        rows = conn.execute(select(runs.c.run_id, runs.c.pair, runs.c.started_at, runs.c.ended_at))
        return [Run(*row) for row in rows]


def owners(replicas: list[Replica]) -> dict[str, str]:
    """Run id -> the replica that logged its end."""
    return {e["run_id"]: r.name for r in replicas for e in r.named("cycle_finished")}


def settled(replicas: list[Replica]) -> datetime | None:
    """When every replica last took a share of two (None while one has not)."""
    latest: list[datetime] = []
    for r in replicas:
        changes = r.named("share_changed")
        if not changes or changes[-1]["replicas"] != len(replicas):
            return None
        latest.append(moment(changes[-1]))
    return max(latest)


def assert_never_overlapping(found: list[Run], until: datetime) -> None:
    by_pair: dict[str, list[Run]] = {}
    for run in found:
        by_pair.setdefault(run.pair, []).append(run)
    for pair, its in by_pair.items():
        its.sort(key=lambda r: r.started)
        for earlier, later in itertools.pairwise(its):
            end = earlier.ended or until
            assert end <= later.started, f"{pair}: {earlier} overlaps {later}"


def test_two_replicas_split_the_pairs_and_one_takes_over_when_the_other_dies(
    tmp_path: Path, pg_url: str, clean_env: pytest.MonkeyPatch
) -> None:
    pairs = {pair_name(k) for k in range(PAIRS)}
    with ExitStack() as stack:
        programme: Programme = stack.enter_context(running_programme(tmp_path, PAIRS, pg_url))
        store = open_store(pg_url)
        stack.callback(store.close)
        a = stack.enter_context(replica("a", programme.config))
        b = stack.enter_context(replica("b", programme.config))
        both = [a, b]

        wait_for(lambda: settled(both) is not None, "both replicas to take a share of two")
        split_at = settled(both)
        assert split_at is not None
        # A cycle (or discovery) let through by the share just before it changed may start a
        # moment after the change is logged: count only what started clearly after it.
        since = split_at + SETTLE_MARGIN

        def steady() -> dict[str, set[str]]:
            """Pair -> the replicas that ran it since the share settled."""
            who, ran = owners(both), dict[str, set[str]]()
            for run in all_runs(store):
                if run.started > since and run.ended is not None and run.run_id in who:
                    ran.setdefault(run.pair, set()).add(who[run.run_id])
            return ran

        def discovered() -> bool:
            return any(r.named("discovery_finished", after=since) for r in both)

        wait_for(
            lambda: set(steady()) == pairs and discovered(),
            "every pair and the rep discovery to run after the split",
        )
        ran = steady()
        assert all(len(names) == 1 for names in ran.values()), ran
        split = {name: {p for p, names in ran.items() if name in names} for name in "ab"}
        assert sorted(len(mine) for mine in split.values()) == [PAIRS // 2, PAIRS // 2], split
        discovering = [r.name for r in both if r.named("discovery_finished", after=since)]
        assert len(discovering) == 1, discovering

        killed_at = datetime.now(UTC)
        b.process.send_signal(signal.SIGKILL)
        b.process.wait(timeout=DEADLINE_SECONDS)

        def taken_over() -> bool:
            done = {e["pair"] for e in a.named("cycle_finished", after=killed_at)}
            return done == pairs and bool(a.named("discovery_finished", after=killed_at))

        wait_for(taken_over, "the survivor to run every pair and the discovery", TAKEOVER_SECONDS)

        # The rep CRM is still discovered for the dead replica's pairs: an edit crosses.
        (moved,) = sorted(split["b"])[:1]
        k = int(moved.rsplit("-", 1)[1])
        programme.learn_links()
        programme.rep.edit_deal(programme.shared[k][1], {"amount": "8888"})
        wait_for(lambda: programme.partner_amount(k) == "8888", "a rep edit to cross")

        a.process.send_signal(signal.SIGTERM)
        assert a.process.wait(timeout=DEADLINE_SECONDS) == 0
        assert_never_overlapping(all_runs(store), until=datetime.now(UTC))
