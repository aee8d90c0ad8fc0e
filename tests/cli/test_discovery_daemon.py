"""The daemon finds rep changes by itself: its discovery job pulls the rep CRM once for every
pair and wakes the pairs it queued changes for (no ``once`` involved)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sync_worker.runtime.config import load_config
from sync_worker.runtime.wiring import runtime_for
from sync_worker.service.daemon import Daemon
from tests.integration.programme import Programme, running_programme

DEADLINE_SECONDS = 30.0


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
