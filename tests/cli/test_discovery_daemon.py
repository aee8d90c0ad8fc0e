"""The daemon finds rep changes by itself: its discovery job pulls the rep CRM once for every
pair and wakes the pairs it queued changes for (no ``once`` involved)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hubspot_sandbox import FaultSpec
from sync_worker.runtime.config import load_config
from sync_worker.runtime.wiring import runtime_for
from sync_worker.service.daemon import Daemon
from sync_worker.state.base import StateStore
from sync_worker.state.schema import replicas
from tests.integration.programme import Programme, running_programme

DEADLINE_SECONDS = 60.0


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def linked(programme: Programme) -> bool:
    try:
        programme.learn_links()
    except (AssertionError, ValueError):
        return False
    return True


def test_a_rep_edit_propagates_in_the_daemon_through_discovery(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    with (
        running_programme(tmp_path, 3) as programme,
        runtime_for(load_config(programme.config)) as runtime,
    ):
        daemon = Daemon(runtime)
        daemon.worker = daemon.worker.model_copy(update={"metrics_port": 0})
        assert daemon.scheduler.get_job("endpoint:rep") is None
        daemon.start()
        try:
            assert daemon.scheduler.get_job("endpoint:rep") is not None
            wait_for(lambda: linked(programme), "every pair's first sync")
            programme.rep.edit_deal(programme.shared[1][1], {"amount": "5151"})
            wait_for(lambda: programme.partner_amount(1) == "5151", "the rep edit to cross")
            programme.partner(2).edit_deal(programme.shared[2][0], {"amount": "5252"})
            wait_for(lambda: programme.rep_amount(2) == "5252", "the partner edit to cross")
        finally:
            daemon.shutdown()
        assert programme.partner_amount(0) == "1000"


def test_the_daemon_beats_while_cycles_take_every_worker(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    """A daemon whose workers are all busy with long cycles (a first sync of a big account)
    is alive: its beats must go on, or the other daemons take its pairs while it runs them."""
    with running_programme(tmp_path, 2, extra="max_parallel_pairs = 1") as programme:
        programme.partner(0).set_faults(
            FaultSpec(slow_rate=1.0, slow_seconds=5.0, endpoints=frozenset({"search"}))
        )
        with runtime_for(load_config(programme.config)) as runtime:
            daemon = Daemon(runtime)
            daemon.worker = daemon.worker.model_copy(update={"metrics_port": 0})
            daemon.start()
            try:
                wait_for(lambda: "pair-000" in daemon.running, "pair-000's slow cycle to start")
                before, cycle = last_beat(runtime.store), daemon.started["pair-000"]

                def beat_during_the_cycle() -> bool:
                    beat = last_beat(runtime.store)
                    running = "pair-000" in daemon.running
                    return running and daemon.started["pair-000"] == cycle and beat > before

                wait_for(beat_during_the_cycle, "a beat while the only worker is busy")
            finally:
                daemon.shutdown()


def last_beat(store: StateStore) -> datetime:
    with store._engine.connect() as conn:  # type: ignore[attr-defined]  # no query for it
        seen: datetime = conn.execute(select(func.max(replicas.c.seen_at))).scalar_one()
    return seen
